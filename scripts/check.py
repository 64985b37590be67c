"""Run every check CI runs: lint, format, types, import contracts, the test suite, then the frozen build.

Each step runs even when an earlier one failed, so one run shows everything; the exit code is non-zero
if any step failed. Extra arguments go to pytest (e.g. `scripts/check.py -k outbox`); the frozen step
(`pytest -m frozen`: build the PyInstaller bundle and run its smoke test, a minute or two) is then skipped.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def main(argv: list[str]) -> int:
    """Run the steps and report each one's result."""
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    steps = [
        ("ruff lint", [str(BIN / "ruff"), "check", "."]),
        ("ruff format", [str(BIN / "ruff"), "format", "--check", "."]),
        ("mypy (strict, app/ and ui/)", [str(BIN / "mypy")]),
        ("import contracts", [str(BIN / "lint-imports")]),
        ("pytest", [sys.executable, "-m", "pytest", "-m", "not frozen and not gui", *argv]),
        # The GUI tests get a process of their own: one QApplication, and no uvicorn threads left by other tests.
        ("pytest (gui)", [sys.executable, "-m", "pytest", "-m", "gui and not frozen", *argv]),
    ]
    if not argv:
        steps.append(("frozen build", [sys.executable, "-m", "pytest", "-m", "frozen", "tests/frozen"]))
    failed: list[str] = []
    for name, command in steps:
        sys.stdout.write(f"\n=== {name}: {' '.join(Path(c).name if i == 0 else c for i, c in enumerate(command))}\n")
        sys.stdout.flush()
        started = time.monotonic()
        code = subprocess.call(command, cwd=ROOT, env=env)
        verdict = "ok" if code == 0 else f"FAILED (exit {code})"
        sys.stdout.write(f"=== {name}: {verdict} in {time.monotonic() - started:.1f} s\n")
        if code != 0:
            failed.append(name)
    if argv:
        sys.stdout.write("\n=== frozen build: skipped (pytest arguments were given)\n")
    sys.stdout.write("\nall checks passed\n" if not failed else f"\nfailed: {', '.join(failed)}\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Rewrite constraints.txt: the exact version of every package `pip install -e '.[dev]'` brings, on every OS.

pyproject.toml keeps lower bounds (what users install from); constraints.txt pins what CI, the release
workflow and the bundle build install (`pip install -c constraints.txt -e '.[dev]'`), so a new release of a
dependency changes nothing until this script is run and its diff committed. The resolution is uv's
`pip compile --universal`: one file for Linux, Windows and macOS, with environment markers where they differ
(pip's own resolver only resolves for the machine it runs on). uv is installed into a throwaway venv.

    .venv/bin/python scripts/refresh_constraints.py                       # newest versions the bounds allow
    .venv/bin/python scripts/refresh_constraints.py --upgrade-package httpx  # extra arguments go to uv

Then run the checks (`scripts/check.py`, with the frozen build) before committing the new file.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "constraints.txt"
UV = "uv>=0.5"
# requires-python's floor: the resolution holds from there up (markers cover newer Pythons).
PYTHON = "3.11"


def main(argv: list[str]) -> int:
    """Resolve into constraints.txt and say what changed."""
    before = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
    with tempfile.TemporaryDirectory(prefix="closeout-uv-") as scratch:
        env_dir = Path(scratch) / "venv"
        venv.create(env_dir, with_pip=True)
        bin_dir = env_dir / ("Scripts" if sys.platform == "win32" else "bin")
        subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q", UV], check=True)
        command = [
            str(bin_dir / "uv"),
            "pip",
            "compile",
            "pyproject.toml",
            "--extra",
            "dev",
            "--universal",
            "--python-version",
            PYTHON,
            "--no-annotate",
            "--upgrade",
            "--custom-compile-command",
            "python scripts/refresh_constraints.py",
            "--output-file",
            str(OUTPUT),
            "--quiet",
            *argv,
        ]
        result = subprocess.run(command, cwd=ROOT, check=False)
    if result.returncode != 0:
        sys.stderr.write(f"uv could not resolve the dependencies (exit {result.returncode}); nothing changed\n")
        if before:
            OUTPUT.write_text(before, encoding="utf-8")
        return 1
    after = OUTPUT.read_text(encoding="utf-8")
    added, removed = sorted(_pins(after) - _pins(before)), sorted(_pins(before) - _pins(after))
    sys.stdout.write(f"constraints.txt: {len(_pins(after))} pins, {len(added)} new or changed, {len(removed)} gone\n")
    for line in added:
        sys.stdout.write(f"  + {line}\n")
    for line in removed:
        sys.stdout.write(f"  - {line}\n")
    return 0


def _pins(text: str) -> set[str]:
    return {line for line in text.splitlines() if line.strip() and not line.startswith("#")}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The frozen bundle: its size, and the start-up time and memory of `dist/closeout/closeout --smoke-test`.

Builds the bundle with build.spec into dist/ (work files in build/, both git-ignored) unless
dist/closeout/closeout is newer than every source file (`--rebuild` forces it), then runs the smoke test
`--runs` times (5) and prints one JSON line:
- `bundle_mb`: the bundle folder's file sizes added up (links not counted), in MiB, as `du` counts;
- `startup_ms_median`, `startup_ms_max`: process start (the kernel's start time of the process) to the main
  window on screen, with the demo workspace on a fresh database (the first-launch case, migrations included);
- `rss_mb`: the highest peak resident set of the runs, in MiB;
- `sizes_mb`: where the bundle's bytes go; `startup_parts_ms`: the median of each start-up phase.

Targets: bundle_mb <= 150, startup_ms_median < 1500 on the project's 2-core machine, rss_mb < 200.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NAME = "closeout"
SOURCES = ("app", "ui", "resources", "build.spec", "pyproject.toml")
# Where the bytes go: (label, path prefix under _internal/), first match wins; the rest is "other".
GROUPS = (
    ("icu", "PySide6/Qt/lib/libicu"),
    ("qt_libs", "PySide6/Qt/lib/"),
    ("qt_plugins", "PySide6/Qt/plugins/"),
    ("pyside6_bindings", "PySide6/"),
    ("shiboken6", "shiboken6/"),
    ("openblas_gfortran", "numpy.libs/"),
    ("numpy", "numpy/"),
    ("cryptography", "cryptography/"),
    ("python_stdlib_ext", "python3.11/"),
    ("libpython", "libpython"),
    ("libcrypto_libssl", "libcrypto"),
    ("libcrypto_libssl", "libssl"),
)


def newest_source() -> float:
    newest = 0.0
    for name in SOURCES:
        path = ROOT / name
        files = (
            [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
        )
        newest = max([newest, *(p.stat().st_mtime for p in files)])
    return newest


def build(dist: Path, work: Path) -> float:
    started = time.monotonic()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            "--noconfirm",
            "--distpath",
            str(dist),
            "--workpath",
            str(work),
            "build.spec",
        ],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.monotonic() - started


def sizes(bundle: Path) -> tuple[float, dict[str, float]]:
    total = 0
    groups: dict[str, int] = {}
    for path in bundle.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        size = path.stat().st_size
        total += size
        where = path.relative_to(bundle).as_posix()
        inner = where.removeprefix("_internal/")
        if where == NAME:
            label = "executable_and_python_code"  # the bootloader with the compressed modules (PYZ) appended
        else:
            label = next((name for name, prefix in GROUPS if inner.startswith(prefix)), "other")
        groups[label] = groups.get(label, 0) + size
    ordered = sorted(groups.items(), key=lambda item: -item[1])
    return total / 2**20, {name: round(size / 2**20, 1) for name, size in ordered}


def smoke(executable: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOSEOUT_", "QT_"))}
    proc = subprocess.run([str(executable), "--smoke-test"], env=env, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0 or proc.stderr.strip():
        sys.exit(f"smoke test failed (exit {proc.returncode}):\n{proc.stderr}")
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rebuild", action="store_true", help="build even if the bundle is newer than the sources")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="where the bundle goes (default: dist/)")
    args = parser.parse_args()

    bundle = args.dist / NAME
    executable = bundle / NAME
    build_s = None
    if args.rebuild or not executable.exists() or executable.stat().st_mtime < newest_source():
        build_s = round(build(args.dist, ROOT / "build"), 1)
    bundle_mb, groups = sizes(bundle)

    reports = [smoke(executable) for _ in range(args.runs)]
    startup = [float(r["startup_ms"]) for r in reports]
    parts: dict[str, list[float]] = {}
    for report in reports:
        for name, ms in report["startup_parts"].items():
            parts.setdefault(name, []).append(ms)
    median = statistics.median(startup)
    rss = max(float(r["rss_mb"]) for r in reports)
    result = {
        "bundle_mb": round(bundle_mb, 1),
        "startup_ms_median": round(median),
        "startup_ms_max": round(max(startup)),
        "rss_mb": rss,
        "runs": len(reports),
        "startup_ms_all": [round(ms) for ms in startup],
        "startup_clock": reports[0]["startup_clock"],
        "startup_parts_ms": {name: round(statistics.median(values)) for name, values in parts.items()},
        "sizes_mb": groups,
        "build_s": build_s,
        "load_average": round(os.getloadavg()[0], 2),
    }
    result["targets_met"] = {"bundle_mb": bundle_mb <= 150, "startup_ms_median": median < 1500, "rss_mb": rss < 200}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

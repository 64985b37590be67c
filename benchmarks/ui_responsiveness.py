"""Benchmark of the desktop app's responsiveness: the real main window (offscreen) on the in-process demo fake.

    .venv/bin/python benchmarks/ui_responsiveness.py             # 200 closes/s for 30 s, then a 1M-row history
    .venv/bin/python benchmarks/ui_responsiveness.py --seconds 10 --rate 100

Phase 1 starts the window on the demo workspace with the unassign workflow published and the simulator at
`--rate` closes per second, shows the live queue, and samples event-loop lag with a 10 ms QTimer (lag = how late
each tick fires). Phase 2 builds a 1,000,000-row history in a child process, opens a second window on it and
times the History view: first page shown after opening it, and first page shown after changing a filter.
`startup_ms` is from this process's start (per /proc) to the first window shown. Prints one JSON line last.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")
ROOT = Path(__file__).resolve().parents[1]
CHILD = "_CLOSEOUT_UI_BENCH_CHILD"
sys.path.insert(0, str(ROOT))


def process_start_epoch() -> float:
    """When this process started, from /proc (Linux), in Unix seconds."""
    fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[19])  # field 22 overall: starttime, in clock ticks after boot
    boot = next(
        int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime")
    )
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def wait_for(predicate: Callable[[], object], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.002)


async def run(args: argparse.Namespace, work: Path) -> dict[str, float]:
    from PySide6.QtCore import QTimer

    from app.bootstrap import Supervisor
    from app.domain.secret import Secret
    from app.settings import Settings
    from ui.main_window import HISTORY, QUEUE, MainWindow

    started = process_start_epoch()
    log(f"imports done {(time.time() - started) * 1000:.0f} ms after the process started")
    settings = Settings({"demo_closes_per_minute": args.rate * 60}, path=work / "settings.json")
    supervisor = Supervisor.prepare(settings=settings, demo=True, poll_seconds=30)  # as ui.__main__ starts
    window = MainWindow(supervisor)
    window.show_page(QUEUE)
    window.show()
    startup_ms = (time.time() - started) * 1000
    log(f"window shown {startup_ms:.0f} ms after the process started")
    await supervisor.connect()
    log(f"database open {(time.time() - started) * 1000:.0f} ms after the process started")
    await supervisor.start()
    window.start()
    await asyncio.sleep(args.warmup)  # the first poll's backfill and the pyqtgraph preload settle first

    before = await supervisor.queue_service.close_count()
    ticks: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        ticks.append(max(0.0, (now - last[0]) * 1000 - 10))
        last[0] = now

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    last[0] = time.perf_counter()
    timer.start()
    log(f"sampling event-loop lag for {args.seconds:g} s at {args.rate:g} closes/s ...")
    await asyncio.sleep(args.seconds)
    timer.stop()
    after = await supervisor.queue_service.close_count()
    shown = window.live_queue.model.rowCount()
    window.close()
    await window.shutdown()
    await supervisor.close()
    log(f"{after - before} closes processed, {len(ticks)} ticks, queue showed {shown} rows")

    db = work / "history.sqlite3"
    log("building a 1,000,000-row history in a child process ...")
    subprocess.run(
        [sys.executable, "-c", f"from tests.gui.million import build; build(__import__('pathlib').Path({str(db)!r}))"],
        cwd=ROOT,
        check=True,
    )
    history_supervisor = await Supervisor.open(
        settings=settings, demo=False, token=Secret("unused"), api_url="http://127.0.0.1:9/v2", db_url=f"sqlite:///{db}"
    )
    history_window = MainWindow(history_supervisor)
    history_window.show_page(QUEUE)
    history_window.show()
    await asyncio.sleep(0.5)
    panel = history_window.history
    t0 = time.perf_counter()
    history_window.show_page(HISTORY)
    await wait_for(lambda: panel.model.rowCount() > 0, 30)
    history_open_ms = (time.perf_counter() - t0) * 1000
    await wait_for(lambda: panel.count_value is not None, 30)
    count_ms = (time.perf_counter() - t0) * 1000
    await asyncio.sleep(1.0)
    timings = []
    for agent_id in (3, 7, 11):
        t0 = time.perf_counter()
        panel.set_filter(replace(panel.current_filter(), agent_id=agent_id))
        await wait_for(lambda: panel.model.rowCount() > 0, 30)
        timings.append((time.perf_counter() - t0) * 1000)
        await wait_for(lambda: panel.count_value is not None, 30)
    history_window.close()
    await history_window.shutdown()
    await history_supervisor.close()
    log(f"history: open {history_open_ms:.0f} ms (count shown at {count_ms:.0f} ms), filter {timings}")
    return {
        "lag_p50_ms": round(statistics.median(ticks), 2),
        "lag_p99_ms": round(percentile(ticks, 0.99), 2),
        "lag_max_ms": round(max(ticks), 2),
        "closes_processed": after - before,
        "closes_per_s": round((after - before) / args.seconds, 1),
        "history_open_ms": round(history_open_ms, 1),
        "history_count_shown_ms": round(count_ms, 1),
        "history_filter_ms": round(statistics.median(timings), 1),
        "startup_ms": round(startup_ms, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    if not os.environ.get(CHILD):
        # Start-up is measured as a returning user sees it, with app/ and ui/ compiled to bytecode: a first
        # start does that by itself, unless PYTHONDONTWRITEBYTECODE is set (as on this machine). The measured
        # run is a fresh process, so compiling here does not count.
        subprocess.run([sys.executable, "-m", "compileall", "-q", "app", "ui"], cwd=ROOT, check=True)
        sys.exit(subprocess.call([sys.executable, __file__, *sys.argv[1:]], env={**os.environ, CHILD: "1"}))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="simulated closes per second (default 200)")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to sample lag (default 30)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before sampling starts (default 3)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="closeout-ui-bench-"))
    os.environ["CLOSEOUT_HOME"] = str(work / "home")
    result: dict[str, float] = {}
    try:
        from ui.__main__ import main as gui_main

        async def session(app: object, parsed: object) -> int:
            result.update(await run(args, work))
            return 0

        gui_main([], session)  # type: ignore[arg-type]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

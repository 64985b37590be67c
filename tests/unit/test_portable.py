"""app.portable: every OS branch (sys.platform / os.name faked where the branch is pure logic), and a walk of
app/ and ui/ that fails on a POSIX-only call anywhere else."""

from __future__ import annotations

import ast
import asyncio
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import portable
from app.sync.embedded_server import EmbeddedServer

ROOT = Path(__file__).resolve().parents[2]
PORTABLE = ROOT / "app" / "portable.py"

# -- the walk ----------------------------------------------------------------------------------------------------

# Modules that exist on one OS family only.
OS_ONLY_MODULES = frozenset(
    {"fcntl", "resource", "pwd", "grp", "termios", "tty", "pty", "posix", "crypt", "spwd", "syslog", "nis"}
    | {"msvcrt", "winreg", "_winapi", "winsound", "nt"}
    | {"uvloop"}
)
# module.attribute, used or called, that is POSIX-only (or meaningless on NTFS, as chmod is).
OS_ONLY_ATTRIBUTES = frozenset(
    {f"os.{name}" for name in ("getuid", "geteuid", "getgid", "getegid", "getpgid", "setsid", "setpgrp", "fork")}
    | {f"os.{name}" for name in ("forkpty", "killpg", "getloadavg", "sysconf", "chown", "lchown", "mkfifo")}
    | {"os.uname", "os.chmod", "os.fchmod", "os.lchmod", "os.getpwuid", "time.clock_gettime"}
    | {f"signal.{name}" for name in ("SIGHUP", "SIGKILL", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGCHLD", "SIGPIPE")}
    | {f"signal.{name}" for name in ("SIGQUIT", "SIGBREAK", "alarm", "pause", "setitimer", "siginterrupt")}
    | {"asyncio.set_event_loop_policy", "asyncio.WindowsSelectorEventLoopPolicy", "asyncio.SelectorEventLoop"}
)
# Methods whose name alone says it: Unix event loops only.
OS_ONLY_METHODS = frozenset({"add_signal_handler", "remove_signal_handler"})
# subprocess keywords that exist only on POSIX (or fork before exec).
OS_ONLY_KEYWORDS = frozenset({"preexec_fn", "start_new_session", "process_group", "pass_fds", "user", "group"})
PROCESS_CALLS = frozenset({"Popen", "run", "call", "check_call", "check_output"})
# Hard-coded places that exist on one OS only.
OS_ONLY_PATH_PREFIXES = ("/tmp", "/proc", "/var/", "/etc/", "/dev/", "/usr/", "~/", "~\\", "C:\\")


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and (head := _dotted(node.value)):
        return f"{head}.{node.attr}"
    return None


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of the constants that are docstrings (they may name /proc or ~ in prose)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def os_only_uses(source: str) -> list[str]:
    """`line: what` for every POSIX-only (or Windows-only) use in `source`."""
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    found: list[str] = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import):
            found += [f"{line}: import {a.name}" for a in node.names if a.name.split(".")[0] in OS_ONLY_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] in OS_ONLY_MODULES:
                found.append(f"{line}: from {node.module} import")
            found += [
                f"{line}: from {node.module} import {a.name}"
                for a in node.names
                if f"{node.module}.{a.name}" in OS_ONLY_ATTRIBUTES
            ]
        elif isinstance(node, ast.Attribute):
            name = _dotted(node)
            if name in OS_ONLY_ATTRIBUTES:
                found.append(f"{line}: {name}")
            elif node.attr in OS_ONLY_METHODS:
                found.append(f"{line}: .{node.attr}")
        elif isinstance(node, ast.Call):
            callee = _dotted(node.func) or ""
            if callee.rsplit(".", 1)[-1] in PROCESS_CALLS or callee.endswith("create_subprocess_exec"):
                found += [f"{line}: {callee}({k.arg}=)" for k in node.keywords if k.arg in OS_ONLY_KEYWORDS]
            if callee.endswith(("get_context", "set_start_method")) and node.args:
                method = node.args[0]
                if not (isinstance(method, ast.Constant) and method.value == "spawn"):
                    found.append(f"{line}: {callee}({ast.unparse(method)})")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            found += [f"{line}: {node.value!r}"] if node.value.startswith(OS_ONLY_PATH_PREFIXES) else []
    return found


def _sources() -> Iterator[Path]:
    for package in ("app", "ui"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path != PORTABLE:
                yield path


def test_no_posix_only_call_outside_the_portable_module() -> None:
    offenders = []
    for path in _sources():
        for use in os_only_uses(path.read_text(encoding="utf-8")):
            offenders.append(f"{path.relative_to(ROOT)}:{use}")
    assert offenders == [], "use app.portable instead:\n" + "\n".join(offenders)


def test_the_walk_covers_app_and_ui() -> None:
    walked = {path.relative_to(ROOT).as_posix() for path in _sources()}
    assert {"app/commands.py", "app/secrets.py", "ui/smoke.py", "ui/__main__.py"} <= walked
    assert "app/portable.py" not in walked


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import fcntl", "1: import fcntl"),
        ("from resource import getrusage", "1: from resource import"),
        ("import os\nos.getuid()", "2: os.getuid"),
        ("from os import getuid", "1: from os import getuid"),
        ("import os\nos.chmod('x', 0o600)", "2: os.chmod"),
        ("import signal\nsignal.SIGHUP", "2: signal.SIGHUP"),
        ("loop.add_signal_handler(2, f)", "1: .add_signal_handler"),
        ("subprocess.run(['x'], start_new_session=True)", "1: subprocess.run(start_new_session=)"),
        ("subprocess.Popen(['x'], preexec_fn=f)", "1: subprocess.Popen(preexec_fn=)"),
        ("multiprocessing.get_context('fork')", "1: multiprocessing.get_context('fork')"),
        ("import os\nos.fork()", "2: os.fork"),
        ("import asyncio\nasyncio.set_event_loop_policy(None)", "2: asyncio.set_event_loop_policy"),
        ("path = '/tmp/closeout'", "1: '/tmp/closeout'"),
        ("path = '~/.config/closeout'", "1: '~/.config/closeout'"),
    ],
)
def test_the_walk_finds_each_kind_of_posix_only_use(source: str, expected: str) -> None:
    assert os_only_uses(source) == [expected]


def test_the_walk_lets_portable_code_through() -> None:
    source = (
        '"""Reads /proc in prose only."""\n'
        "import signal, subprocess, multiprocessing\n"
        "signal.signal(signal.SIGTERM, f)\n"
        "subprocess.run(['x'], check=True)\n"
        "multiprocessing.get_context('spawn')\n"
        "name = 'closeout-2026-01-31.csv'\n"
    )
    assert os_only_uses(source) == []


def test_the_portable_module_holds_what_it_guards() -> None:
    """The walk would pass vacuously if the calls had simply gone; they live in app/portable.py."""
    uses = "\n".join(os_only_uses(PORTABLE.read_text(encoding="utf-8")))
    for what in (".add_signal_handler", "os.chmod", "import resource", "time.clock_gettime", "'/proc/self/stat'"):
        assert what in uses


# -- signals -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "third"),
    [("linux", "SIGHUP"), ("darwin", "SIGHUP"), ("win32", "SIGBREAK")],
)
def test_stop_signals_per_os(monkeypatch: pytest.MonkeyPatch, platform: str, third: str) -> None:
    monkeypatch.setattr(sys, "platform", platform)
    expected = [signal.SIGINT, signal.SIGTERM] + ([getattr(signal, third)] if hasattr(signal, third) else [])
    assert list(portable.stop_signals()) == expected


def _stop_on(loop: asyncio.AbstractEventLoop, sig: signal.Signals) -> list[str]:
    """Install the stop handlers on `loop`, deliver `sig` to this process, and report what happened."""
    seen: list[str] = []
    before = {s: signal.getsignal(s) for s in portable.stop_signals()}

    async def main() -> None:
        stopped = asyncio.Event()
        remove = portable.on_stop_signal(asyncio.get_running_loop(), stopped.set)
        try:
            # From another thread, as `kill` from outside would: the loop must wake up for it.
            threading.Timer(0.05, signal.raise_signal, (sig,)).start()
            await asyncio.wait_for(stopped.wait(), 10)
            seen.append("stopped")
        finally:
            remove()

    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    after = {s: signal.getsignal(s) for s in portable.stop_signals()}
    seen.append("restored" if after == before else f"left behind: {after}")
    return seen


@pytest.mark.skipif(sys.platform == "win32", reason="Windows loops have no add_signal_handler")
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT", "SIGHUP"])
def test_a_unix_loop_stops_on_a_signal_through_its_own_handler(sig: str) -> None:
    assert _stop_on(asyncio.new_event_loop(), getattr(signal, sig)) == ["stopped", "restored"]


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_a_loop_without_signal_support_stops_through_signal_signal(sig: str) -> None:
    # BaseSelectorEventLoop is asyncio's platform-neutral loop (Windows' SelectorEventLoop): like the Proactor
    # loop, its add_signal_handler raises NotImplementedError.
    loop = asyncio.selector_events.BaseSelectorEventLoop()
    with pytest.raises(NotImplementedError):
        loop.add_signal_handler(signal.SIGTERM, print)
    assert _stop_on(loop, getattr(signal, sig)) == ["stopped", "restored"]


@pytest.mark.parametrize(
    ("platform", "stops", "reload"),
    [("linux", ["SIGINT", "SIGTERM"], "SIGHUP"), ("win32", ["SIGINT", "SIGTERM", "SIGBREAK"], None)],
)
def test_where_sighup_reloads_it_does_not_stop(
    monkeypatch: pytest.MonkeyPatch, platform: str, stops: list[str], reload: str | None
) -> None:
    monkeypatch.setattr(sys, "platform", platform)
    assert list(portable.stop_signals(hangup_reloads=True)) == [getattr(signal, n) for n in stops if hasattr(signal, n)]
    assert portable.reload_signal() == (getattr(signal, reload) if reload else None)


@pytest.mark.skipif(sys.platform == "win32", reason="Windows has no SIGHUP")
def test_sighup_reloads_and_leaves_the_stop_handlers_waiting() -> None:
    before = signal.getsignal(signal.SIGHUP)

    async def main() -> list[str]:
        seen: list[str] = []
        stopped, reloaded = asyncio.Event(), asyncio.Event()
        loop = asyncio.get_running_loop()
        remove_stop = portable.on_stop_signal(loop, stopped.set, hangup_reloads=True)
        remove_reload = portable.on_reload_signal(loop, reloaded.set)
        try:
            threading.Timer(0.05, signal.raise_signal, (signal.SIGHUP,)).start()
            await asyncio.wait_for(reloaded.wait(), 10)
            seen.append("reloaded")
            seen.append("stopped" if stopped.is_set() else "still running")
        finally:
            remove_reload()
            remove_stop()
        return seen

    assert asyncio.run(main()) == ["reloaded", "still running"]
    assert signal.getsignal(signal.SIGHUP) == before


def test_the_webhook_receiver_serves_on_a_loop_without_signal_support() -> None:
    """uvicorn inside Closeout must not need a Unix loop: the CLI's default loop on Windows has no signals."""

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        assert scope["type"] == "http"
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b"ok"})  # type: ignore[operator]

    async def main() -> bytes:
        server = EmbeddedServer(app, "127.0.0.1", 0)  # type: ignore[arg-type]
        await server.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = await asyncio.wait_for(reader.read(), 10)
            writer.close()
            return answer
        finally:
            await server.stop()

    loop = asyncio.selector_events.BaseSelectorEventLoop()
    try:
        answer = loop.run_until_complete(main())
    finally:
        loop.close()
    assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"\r\n\r\nok")


# -- private files -----------------------------------------------------------------------------------------------


@pytest.mark.skipif(os.name != "posix", reason="NTFS has no mode bits")
def test_a_private_file_has_mode_0600_even_over_a_leftover_tmp(tmp_path: Path) -> None:
    target = tmp_path / "token.json"
    leftover = tmp_path / "token.json.tmp"
    leftover.write_text("half a write")
    leftover.chmod(0o644)
    target.write_text("old")
    portable.write_private_file(target, '{"token": "new"}')
    assert target.read_text() == '{"token": "new"}'
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert not leftover.exists()


def test_a_private_file_replaces_the_old_one_whole(tmp_path: Path) -> None:
    target = tmp_path / "settings.json"
    portable.write_private_file(target, "x" * 10_000)
    portable.write_private_file(target, "short")
    assert target.read_text() == "short"
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]


@pytest.mark.parametrize(
    ("name", "platform", "says"),
    [("nt", "win32", "profile folder"), ("posix", "darwin", "mode 0600"), ("posix", "linux", "mode 0600")],
)
def test_the_fallback_says_why_it_is_private(
    monkeypatch: pytest.MonkeyPatch, name: str, platform: str, says: str
) -> None:
    monkeypatch.setattr(os, "name", name)
    monkeypatch.setattr(sys, "platform", platform)
    assert says in portable.private_file_protection()


@pytest.mark.parametrize(
    ("platform", "store"),
    [("win32", "Windows Credential Manager"), ("darwin", "macOS Keychain"), ("linux", "Secret Service")],
)
def test_the_keyring_is_named_as_the_os_names_it(monkeypatch: pytest.MonkeyPatch, platform: str, store: str) -> None:
    monkeypatch.setattr(sys, "platform", platform)
    assert store in portable.keyring_name()


# -- names and paths ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("closeout-history-2026-01-31.csv", "closeout-history-2026-01-31.csv"),
        ("export 2026-01-31 23:59:59.csv", "export 2026-01-31 23-59-59.csv"),
        ('a<b>c"d|e?f*g\\h/i', "a-b-c-d-e-f-g-h-i"),
        ("tab\there", "tab-here"),
        ("CON", "_CON"),
        ("nul.csv", "_nul.csv"),
        ("com1.tar.gz", "_com1.tar.gz"),
        ("console.csv", "console.csv"),
        ("report. ", "report"),
    ],
)
def test_file_name_is_valid_on_ntfs(text: str, name: str) -> None:
    assert portable.file_name(text) == name
    assert portable.is_valid_file_name(name)


def test_a_name_with_nothing_left_is_refused_in_words() -> None:
    with pytest.raises(ValueError, match="nothing left"):
        portable.file_name(" . ")
    assert not portable.is_valid_file_name("")
    assert not portable.is_valid_file_name("12:30.csv")


def test_the_time_stamp_for_file_names_has_no_colon() -> None:
    stamp = portable.file_time_stamp(time.mktime((2026, 1, 31, 23, 59, 58, 0, 0, -1)))
    assert stamp == "20260131-235958"
    assert portable.is_valid_file_name(f"closeout.sqlite3.unreadable-{portable.file_time_stamp()}")


@pytest.mark.skipif(sys.platform != "linux", reason="XDG_DOCUMENTS_DIR is the Linux convention")
def test_documents_dir_comes_from_platformdirs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    documents = tmp_path / "Dokumente"
    monkeypatch.setenv("XDG_DOCUMENTS_DIR", str(documents))
    monkeypatch.setenv("HOME", str(tmp_path))
    assert portable.documents_dir() == tmp_path  # no Documents folder yet: the home folder
    documents.mkdir()
    assert portable.documents_dir() == documents


def test_every_tracked_file_name_is_valid_on_windows_and_macos() -> None:
    """NTFS refuses some names, and NTFS and APFS fold case: two names that differ only in case are one file."""
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    names = listed.splitlines()
    assert "app/bootstrap.py" in names
    invalid = [n for n in names if not all(portable.is_valid_file_name(part) for part in n.split("/"))]
    assert invalid == []
    folded: dict[str, list[str]] = {}
    for name in names:
        folded.setdefault(name.casefold(), []).append(name)
    assert [group for group in folded.values() if len(group) > 1] == []


# -- process facts -----------------------------------------------------------------------------------------------


@pytest.mark.skipif(sys.platform != "linux", reason="/proc is Linux's")
def test_process_age_on_linux_counts_from_the_process_start() -> None:
    code = "import time; time.sleep(0.3); from app import portable; print(portable.process_age_s())"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert 0.3 <= float(out.stdout) < 30


@pytest.mark.parametrize("platform", ["win32", "darwin"])
def test_process_age_elsewhere_is_unknown(monkeypatch: pytest.MonkeyPatch, platform: str) -> None:
    monkeypatch.setattr(sys, "platform", platform)
    assert portable.process_age_s() is None


@pytest.mark.parametrize(("platform", "mb"), [("linux", 100.0), ("darwin", 100 / 1024), ("freebsd14", 100.0)])
def test_maxrss_units_per_os(monkeypatch: pytest.MonkeyPatch, platform: str, mb: float) -> None:
    monkeypatch.setattr(sys, "platform", platform)
    assert portable.maxrss_mb(100 * 1024) == pytest.approx(mb)


def test_peak_rss_is_this_process_size() -> None:
    grown = bytearray(64 * 2**20)  # touched, so resident
    grown[::4096] = b"x" * len(grown[::4096])
    assert portable.peak_rss_mb() >= 64
    del grown


@pytest.mark.skipif(sys.platform != "win32", reason="Windows' GetProcessMemoryInfo")
def test_peak_working_set_on_windows() -> None:
    assert 10 < portable.peak_rss_mb() < 4096


def test_the_readme_says_where_files_live_as_platformdirs_puts_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """README's "Where Closeout keeps its files" table, checked against platformdirs' own logic for each OS."""
    import platformdirs.windows
    from platformdirs.macos import MacOS
    from platformdirs.unix import Unix

    from app.paths import APP_NAME

    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", "/home-of-you")
    monkeypatch.setattr(platformdirs.windows, "get_win_folder", {"CSIDL_LOCAL_APPDATA": "%LOCALAPPDATA%"}.__getitem__)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("### Where Closeout keeps its files") :].split("\n\n")[2]
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:5]] for line in table.splitlines()}
    for column, kind in enumerate((platformdirs.windows.Windows, MacOS, Unix)):
        dirs = kind(APP_NAME, appauthor=False)
        sep = "\\" if kind is platformdirs.windows.Windows else "/"
        expected = {
            "settings (`settings.json`)": dirs.user_config_dir,
            "database (`closeout.sqlite3`)": dirs.user_data_dir,
            "logs": dirs.user_log_dir,
            "cache": dirs.user_cache_dir,
        }
        for row, folder in expected.items():
            written = folder.replace("/home-of-you", "~").replace("/", sep)
            assert rows[row][column] == f"`{written}`", (kind.__name__, row)

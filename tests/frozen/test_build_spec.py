"""build.spec's OS switch, run as plain Python with sys.platform faked as win32 and darwin.

PyInstaller does not cross-compile, so the Windows and macOS bundles are first built on the public CI
(.github/workflows/release.yml). Here the spec runs whole, with recorders in place of PyInstaller's build
classes (Analysis, PYZ, EXE, COLLECT, BUNDLE) fed the file layout each OS's PySide6 wheel has, and the
test checks what the spec would hand PyInstaller: targets, icons, version resource, Info.plist, data lists.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path
from typing import Any

# What the spec imports, imported before sys.platform is faked (their own import-time platform checks stay true).
import PyInstaller.depend.bindepend
import PyInstaller.utils.hooks  # noqa: F401
import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]

# Bundle paths PyInstaller's PySide6 hooks collect on each OS (a sample: what the spec keeps or drops).
QT_LAYOUT = {
    "win32": {
        "keep": [
            "PySide6/Qt6Core.dll",
            "PySide6/plugins/platforms/qwindows.dll",
            "PySide6/plugins/platforms/qoffscreen.dll",
            "PySide6/plugins/styles/qmodernwindowsstyle.dll",
            "PySide6/plugins/imageformats/qjpeg.dll",
            "PySide6/plugins/imageformats/qico.dll",
            "PySide6/plugins/imageformats/qgif.dll",
            "icuuc.dll",
        ],
        "drop": [
            "PySide6/plugins/imageformats/qwebp.dll",
            "PySide6/plugins/imageformats/qsvg.dll",
            "PySide6/plugins/iconengines/qsvgicon.dll",
            "PySide6/plugins/tls/qschannelbackend.dll",
            "PySide6/plugins/generic/qtuiotouchplugin.dll",
            "PySide6/translations/qtbase_de.qm",
        ],
    },
    "darwin": {
        "keep": [
            "PySide6/Qt/lib/QtCore.framework/Versions/A/QtCore",
            "PySide6/Qt/plugins/platforms/libqcocoa.dylib",
            "PySide6/Qt/plugins/platforms/libqoffscreen.dylib",
            "PySide6/Qt/plugins/styles/libqmacstyle.dylib",
            "PySide6/Qt/plugins/imageformats/libqjpeg.dylib",
            "PySide6/Qt/plugins/imageformats/libqico.dylib",
            "PySide6/Qt/plugins/imageformats/libqgif.dylib",
        ],
        "drop": [
            "PySide6/Qt/plugins/imageformats/libqwebp.dylib",
            "PySide6/Qt/plugins/imageformats/libqmacheif.dylib",
            "PySide6/Qt/plugins/iconengines/libqsvgicon.dylib",
            "PySide6/Qt/plugins/tls/libqsecuretransportbackend.dylib",
            "PySide6/Qt/translations/qtbase_de.qm",
        ],
    },
}


class Recorder:
    """Stands in for one of PyInstaller's build classes: keeps its arguments, as PyInstaller would receive them."""

    made: list[Recorder]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs
        self.made.append(self)


def run_spec(platform: str, work: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Execute build.spec as PyInstaller does (its globals injected), on `platform`; return what it built."""
    made: list[Recorder] = []
    layout = QT_LAYOUT[platform]

    class Analysis(Recorder):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # PyInstaller turns (source, folder) pairs into (bundle path, source, kind) entries.
            wheel = layout["keep"] + layout["drop"]
            self.datas = [(f"{folder}/{Path(source).name}", source, "DATA") for source, folder in kwargs["datas"]]
            self.datas += [(path, f"/wheel/{path}", "DATA") for path in wheel if path.endswith(".qm")]
            self.binaries = [(path, f"/wheel/{path}", "BINARY") for path in wheel if not path.endswith(".qm")]
            self.pure: list[Any] = []
            self.scripts: list[Any] = []

    namespace: dict[str, Any] = {"SPECPATH": str(ROOT), "workpath": str(work), "DISTPATH": str(work / "dist")}
    for name in ("PYZ", "EXE", "COLLECT", "BUNDLE"):
        namespace[name] = type(name, (Recorder,), {})
    namespace["Analysis"] = Analysis
    Recorder.made = made
    source = (ROOT / "build.spec").read_text(encoding="utf-8")
    monkeypatch.setattr(sys, "platform", platform)
    exec(compile(source, str(ROOT / "build.spec"), "exec"), namespace)
    monkeypatch.undo()
    built = {type(r).__name__: r for r in made}
    built["namespace"] = namespace
    return built


@pytest.fixture(params=["win32", "darwin"])
def spec(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, dict[str, Any]]:
    return request.param, run_spec(request.param, tmp_path, monkeypatch)


def test_the_executable_is_closeout_windowed_with_the_os_icon(spec: tuple[str, dict[str, Any]]) -> None:
    platform, built = spec
    exe = built["EXE"].kwargs
    assert exe["name"] == "closeout"  # PyInstaller adds .exe on Windows
    assert exe["console"] is False and exe["upx"] is False
    icon = Path(exe["icon"])
    assert icon.name == {"win32": "closeout.ico", "darwin": "closeout.icns"}[platform]
    assert icon.is_file() and icon.parent == ROOT / "resources" / "icons"
    assert built["COLLECT"].kwargs["name"] == "closeout"


def test_windows_gets_a_version_resource_and_macos_none(spec: tuple[str, dict[str, Any]]) -> None:
    platform, built = spec
    version = built["EXE"].kwargs["version"]
    if platform != "win32":
        assert version is None
        return
    fields = read_version_file(Path(version))
    numbers = (*(int(n) for n in PROJECT["version"].split(".")), 0)
    assert fields["filevers"] == fields["prodvers"] == numbers[:4]
    assert fields["ProductVersion"] == fields["FileVersion"] == PROJECT["version"]
    assert fields["OriginalFilename"] == "closeout.exe"
    assert fields["ProductName"] == fields["FileDescription"] == "Closeout"


def read_version_file(path: Path) -> dict[str, Any]:
    """Evaluate the version file as PyInstaller does (`eval`), with recorders for its structures."""
    fields: dict[str, Any] = {}

    def fixed(**kwargs: Any) -> str:
        fields.update(kwargs)
        return "ffi"

    def string(key: str, value: str) -> str:
        fields[key] = value
        return key

    def node(*args: Any, **kwargs: Any) -> tuple[Any, ...]:
        return (*args, kwargs)

    names = {"FixedFileInfo": fixed, "StringStruct": string}
    names |= {n: node for n in ("VSVersionInfo", "StringFileInfo", "StringTable", "VarFileInfo", "VarStruct")}
    tree = ast.parse(path.read_text(encoding="utf-8"), mode="eval")
    eval(compile(tree, str(path), "eval"), {"__builtins__": {}}, names)
    return fields


def test_macos_gets_an_app_bundle_with_its_info_plist(spec: tuple[str, dict[str, Any]]) -> None:
    platform, built = spec
    if platform != "darwin":
        assert "BUNDLE" not in built
        return
    bundle = built["BUNDLE"]
    assert bundle.args == (built["COLLECT"],)
    kwargs = bundle.kwargs
    assert kwargs["name"] == "Closeout.app"
    assert kwargs["bundle_identifier"] == "app.closeout.desktop"
    assert kwargs["version"] == PROJECT["version"]
    assert Path(kwargs["icon"]).name == "closeout.icns"
    plist = kwargs["info_plist"]
    assert plist["CFBundleShortVersionString"] == PROJECT["version"]
    assert plist["NSHighResolutionCapable"] is True
    major, minor = (int(n) for n in plist["LSMinimumSystemVersion"].split("."))
    assert (major, minor) >= (12, 0)  # Qt 6.8's oldest macOS


def test_the_data_list_is_the_same_on_every_os(spec: tuple[str, dict[str, Any]]) -> None:
    _, built = spec
    datas = built["Analysis"].kwargs["datas"]
    folders = {folder for _, folder in datas}
    assert {"resources/icons", "app/storage/migrations", "app/storage/migrations/versions"} <= folders
    icons = sorted(Path(source).name for source, folder in datas if folder == "resources/icons")
    assert icons == sorted(p.name for p in (ROOT / "resources" / "icons").glob("closeout-*.png"))
    assert len(icons) == 7
    assert any(Path(source).name == "env.py" for source, _ in datas)
    assert any(folder.endswith((".dist-info", ".egg-info")) for _, folder in datas)  # the version it reports


def test_each_os_keeps_its_platform_plugins_and_drops_what_closeout_never_loads(
    spec: tuple[str, dict[str, Any]],
) -> None:
    platform, built = spec
    analysis = built["Analysis"]
    kept = {entry[0] for entry in analysis.binaries + analysis.datas}
    layout = QT_LAYOUT[platform]
    assert sorted(set(layout["keep"]) - kept) == []
    assert sorted(set(layout["drop"]) & kept) == []


def test_only_linux_prunes_strips_and_trims(spec: tuple[str, dict[str, Any]]) -> None:
    platform, built = spec
    assert built["namespace"]["ELF_STEPS"] is False
    # Every binary the wheel layout listed as kept is there as it came, not a stripped copy from the work folder.
    binaries = built["Analysis"].binaries
    assert binaries and all(source.startswith("/wheel/") for _, source, _ in binaries)
    assert "icuuc.dll" in {dest for dest, _, _ in binaries} or platform == "darwin"  # not pruned: nothing links it

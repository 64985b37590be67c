"""The layout rules of DESIGN.md, checked: no Qt below app/, and a domain that needs only the stdlib."""

from __future__ import annotations

import ast
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import app

ROOT = Path(__file__).resolve().parents[1]


def _app_modules() -> list[str]:
    # Alembic's env.py and revision files are scripts Alembic runs, not modules to import.
    names = (m.name for m in pkgutil.walk_packages(app.__path__, "app."))
    return sorted(n for n in names if not n.startswith("app.storage.migrations"))


def test_importing_every_app_module_loads_no_qt() -> None:
    modules = _app_modules()
    assert "app.domain.people" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'PySide6', 'shiboken6', 'qasync', 'ui'})\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_the_window_can_be_built_before_storage_sync_and_the_client_load() -> None:
    """ui.__main__ shows the window before `Supervisor.connect`, which is what imports these (start-up time)."""
    code = (
        "import sys\n"
        "import ui.__main__, ui.main_window, app.bootstrap\n"
        "heavy = ('sqlalchemy', 'alembic', 'httpx', 'starlette', 'uvicorn', 'keyring', 'pyqtgraph', 'numpy')\n"
        "print(','.join(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in heavy})))\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    command = [sys.executable, "-c", code]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_domain_imports_only_the_standard_library() -> None:
    allowed = set(sys.stdlib_module_names) | {"app"}
    offenders = []
    for path in (ROOT / "app" / "domain").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top not in allowed or (top == "app" and not name.startswith("app.domain")):
                    offenders.append(f"{path.name}: {name}")
    assert offenders == []


def test_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports.exe" if os.name == "nt" else "lint-imports")
    result = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr

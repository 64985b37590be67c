"""Where Closeout keeps its files: platformdirs locations, all moved at once by `CLOSEOUT_HOME`.

Nothing is created at import time; callers create a directory when they are about to write in it.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "Closeout"
HOME_ENV = "CLOSEOUT_HOME"


def home_override() -> Path | None:
    """The folder that holds every Closeout file when `CLOSEOUT_HOME` is set, else None."""
    value = os.environ.get(HOME_ENV, "").strip()
    return Path(value).expanduser().resolve() if value else None


def config_dir() -> Path:
    """Settings and, where no keyring exists, the token file."""
    home = home_override()
    return home / "config" if home else Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    """The database."""
    home = home_override()
    return home / "data" if home else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    """Files that can be thrown away."""
    home = home_override()
    return home / "cache" if home else Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def log_dir() -> Path:
    """Log files."""
    home = home_override()
    return home / "logs" if home else Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def database_path() -> Path:
    """The default SQLite database file."""
    return data_dir() / "closeout.sqlite3"


def settings_path() -> Path:
    """The settings file."""
    return config_dir() / "settings.json"


def ensure_dir(path: Path) -> Path:
    """Create `path` (private to the user) if it is missing, and return it."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path

"""Paths move with CLOSEOUT_HOME and are created only on demand; the token never leaks."""

from __future__ import annotations

import importlib
import json
import logging
import os
import stat
import sys
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from app import paths, secrets
from app.domain.secret import Secret


def test_every_path_moves_under_closeout_home(isolated_home: Path) -> None:
    assert paths.config_dir() == isolated_home / "config"
    assert paths.data_dir() == isolated_home / "data"
    assert paths.cache_dir() == isolated_home / "cache"
    assert paths.log_dir() == isolated_home / "logs"
    assert paths.database_path() == isolated_home / "data" / "closeout.sqlite3"


def test_nothing_is_created_at_import(isolated_home: Path) -> None:
    importlib.reload(paths)
    paths.database_path()
    assert not isolated_home.exists()
    assert paths.ensure_dir(paths.data_dir()).is_dir()
    assert os.name != "posix" or stat.S_IMODE(paths.data_dir().stat().st_mode) == 0o700  # NTFS: no modes


@pytest.mark.skipif(sys.platform != "linux", reason="XDG_DATA_HOME is the Linux convention")
def test_without_closeout_home_platformdirs_decides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CLOSEOUT_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert paths.data_dir() == tmp_path / "xdg" / "Closeout"


def test_secret_hides_the_token_everywhere_but_reveal() -> None:
    token = Secret("Bearer  sk-live-1234567890abcd ")
    assert token.reveal() == "sk-live-1234567890abcd"
    for shown in (repr(token), str(token), f"{token}", repr([token])):
        assert "sk-live" not in shown and "abcd" in shown
    assert not Secret("   ")
    assert Secret("x") == Secret(" x ") and Secret("x") != Secret("y")


def test_token_round_trips_through_the_keyring() -> None:
    assert secrets.load_token() is None
    assert secrets.store_token(Secret("tok-keyring-123")) == "keyring"
    assert keyring.get_password(secrets.SERVICE, secrets.ACCOUNT) == "tok-keyring-123"
    assert secrets.load_token() == Secret("tok-keyring-123")
    secrets.clear_token()
    assert secrets.load_token() is None


def test_environment_token_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    secrets.store_token(Secret("stored"))
    monkeypatch.setenv("CLOSEOUT_API_TOKEN", "from-env")
    assert secrets.load_token() == Secret("from-env")


def test_without_a_keyring_the_token_goes_to_a_private_file(caplog: pytest.LogCaptureFixture) -> None:
    keyring.set_keyring(fail.Keyring())
    caplog.set_level(logging.DEBUG)

    where = secrets.store_token(Secret("tok-file-secret-999"))

    path = Path(where)
    assert path.parent == paths.config_dir()
    assert os.name != "posix" or stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {"token": "tok-file-secret-999"}
    assert secrets.load_token() == Secret("tok-file-secret-999")
    assert "tok-file-secret" not in caplog.text
    secrets.clear_token()
    assert not path.exists() and secrets.load_token() is None


def test_an_unreadable_token_file_is_ignored() -> None:
    keyring.set_keyring(fail.Keyring())
    paths.ensure_dir(paths.config_dir())
    (paths.config_dir() / "token.json").write_text("{oops")
    assert secrets.load_token() is None

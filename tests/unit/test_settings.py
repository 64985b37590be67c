"""Settings: declared once, loaded from file and environment, saved atomically and privately."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from app import paths
from app.domain.errors import ConfigError
from app.settings import (
    ALL_SETTINGS,
    API_URL,
    POLL_SECONDS,
    RATE_LIMIT_PER_S,
    WEBHOOK_PORT,
    Setting,
    Settings,
    setting_named,
)


def test_every_setting_is_declared_with_words_and_a_valid_default() -> None:
    keys = [s.key for s in ALL_SETTINGS]
    assert len(keys) == len(set(keys))
    for setting in ALL_SETTINGS:
        assert setting.label and setting.description.endswith(".")
        assert setting.parse(setting.default) == setting.default


def test_defaults_then_file_then_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    file = tmp_path / "settings.json"
    file.write_text(json.dumps({"poll_seconds": 30, "api_url": "http://127.0.0.1:9/v2", "unknown": 1}))
    settings = Settings.load(file)
    assert settings.get(POLL_SECONDS) == 30
    assert settings.source(POLL_SECONDS) == "file"
    assert settings.get(RATE_LIMIT_PER_S) == 5.0
    assert settings.source(RATE_LIMIT_PER_S) == "default"

    monkeypatch.setenv("CLOSEOUT_API_URL", "http://127.0.0.1:8000/v2")
    assert settings.get(API_URL) == "http://127.0.0.1:8000/v2"
    assert settings.source(API_URL) == "environment"


@pytest.mark.parametrize(
    ("setting", "raw", "expected"),
    [(POLL_SECONDS, "45", 45), (RATE_LIMIT_PER_S, "2.5", 2.5), (WEBHOOK_PORT, 0, 0)],
)
def test_parse_accepts_text_and_numbers(setting: Setting[int] | Setting[float], raw: object, expected: float) -> None:
    assert setting.parse(raw) == expected


@pytest.mark.parametrize(("setting", "raw"), [(POLL_SECONDS, "soon"), (POLL_SECONDS, 1), (WEBHOOK_PORT, 70_000)])
def test_parse_refuses_bad_values_in_words(setting: Setting[int], raw: object) -> None:
    with pytest.raises(ConfigError) as caught:
        setting.parse(raw)
    assert setting.label in caught.value.message


def test_bool_settings_parse_common_spellings() -> None:
    flag = Setting("flag", bool, False, "Flag", "A flag.")
    assert [flag.parse(v) for v in ("yes", "0", "TRUE", True, "off")] == [True, False, True, True, False]
    with pytest.raises(ConfigError):
        flag.parse("maybe")


def test_a_bad_value_in_the_file_falls_back_to_the_default(tmp_path: Path) -> None:
    file = tmp_path / "settings.json"
    file.write_text(json.dumps({"poll_seconds": "never"}))
    assert Settings.load(file).get(POLL_SECONDS) == POLL_SECONDS.default


def test_an_unreadable_file_is_left_alone(tmp_path: Path) -> None:
    file = tmp_path / "settings.json"
    file.write_text("{not json")
    settings = Settings.load(file)
    assert settings.get(POLL_SECONDS) == POLL_SECONDS.default
    assert file.read_text() == "{not json"


def test_save_writes_a_private_file_in_the_config_dir(isolated_home: Path) -> None:
    settings = Settings.load()
    settings.set(POLL_SECONDS, "120")
    settings.save()
    path = paths.settings_path()
    assert path.parent == isolated_home / "config"
    assert json.loads(path.read_text()) == {"poll_seconds": 120}
    assert os.name != "posix" or stat.S_IMODE(path.stat().st_mode) == 0o600  # NTFS: no modes
    assert Settings.load().get(POLL_SECONDS) == 120
    settings.reset(POLL_SECONDS)
    settings.save()
    assert Settings.load().source(POLL_SECONDS) == "default"


def test_setting_named_lists_the_known_keys() -> None:
    assert setting_named("poll_seconds") is POLL_SECONDS
    with pytest.raises(ConfigError) as caught:
        setting_named("pol_seconds")
    assert "poll_seconds" in caught.value.action

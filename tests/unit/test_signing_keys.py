"""Webhook signing keys: labels, the CLI's forms, storage as secrets, and matching any of several keys."""

from __future__ import annotations

import hmac
import json
import logging
import stat
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from app import paths, secrets
from app.bootstrap import move_settings_key
from app.domain.errors import ConfigError
from app.domain.secret import Secret
from app.domain.signing_keys import SigningKey, merged, parse_key_option, signing_key
from app.platform import webhooks
from app.platform.webhooks import matching_label, sign
from app.settings import WEBHOOK_SECRET, Settings

BODY = b'{"event_type":"conversation.closed","event_id":"e-1"}'


def test_the_key_that_signed_the_body_is_named_by_its_label() -> None:
    keys = [("closed", "k-closed"), ("opened", "k-opened"), ("assignee", "k-assignee")]
    for label, key in keys:
        assert matching_label(keys, BODY, sign(key, BODY)) == label
    assert matching_label(keys, BODY, sign("another", BODY)) is None
    assert matching_label(keys, BODY, None) is None
    assert matching_label([], BODY, sign("k-closed", BODY)) is None
    assert matching_label([("empty", "")], BODY, sign("", BODY)) is None


def test_every_key_is_compared_in_constant_time_even_after_a_match(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[bytes] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        compared.append(a)
        return real(a, b)

    monkeypatch.setattr(webhooks.hmac, "compare_digest", counting)
    keys = [("closed", "k-closed"), ("opened", "k-opened"), ("assignee", "k-assignee")]
    assert matching_label(keys, BODY, sign("k-closed", BODY)) == "closed"
    # The first key matched, yet all three were compared: the time taken does not tell which key it was.
    assert compared == [sign(key, BODY).encode() for _, key in keys]


def test_labels_and_keys_are_checked_in_words() -> None:
    assert signing_key(" closed ", " k1 ") == SigningKey("closed", Secret("k1"))
    for label in ("", "two words", "x" * 41, "-dash-first"):
        with pytest.raises(ConfigError, match="not a key label"):
            signing_key(label, "k")
    with pytest.raises(ConfigError, match="empty"):
        signing_key("closed", "   ")


def test_the_cli_form_reads_a_known_label_and_keeps_equals_signs_in_bare_keys() -> None:
    assert parse_key_option("closed=K1", 1) == SigningKey("closed", Secret("K1"))
    assert parse_key_option("assignee=a=b==", 1) == SigningKey("assignee", Secret("a=b=="))
    assert parse_key_option("c2VjcmV0==", 2) == SigningKey("key-2", Secret("c2VjcmV0=="))
    assert parse_key_option("other=K", 3) == SigningKey("key-3", Secret("other=K"))


def test_merged_keeps_each_key_once_and_both_keys_of_a_shared_label() -> None:
    a, b = SigningKey("opened", Secret("A")), SigningKey("opened", Secret("B"))
    assert merged((a,), (SigningKey("other", Secret("A")), b)) == (a, b)


def test_keys_round_trip_through_the_keyring_and_never_reach_the_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    assert secrets.load_webhook_keys() == []
    assert secrets.add_webhook_key(SigningKey("closed", Secret("closed-key-1"))) == "keyring"
    secrets.add_webhook_key(SigningKey("opened", Secret("opened-key-1")))
    secrets.add_webhook_key(SigningKey("closed", Secret("closed-key-2")))  # respond.io regenerated it
    assert secrets.load_webhook_keys() == [
        SigningKey("opened", Secret("opened-key-1")),
        SigningKey("closed", Secret("closed-key-2")),
    ]
    stored = keyring.get_password(secrets.SERVICE, secrets.KEYS_ACCOUNT)
    assert stored is not None and "closed-key-2" in stored
    assert secrets.remove_webhook_key("opened") is True
    assert secrets.remove_webhook_key("opened") is False
    assert [k.label for k in secrets.load_webhook_keys()] == ["closed"]
    assert "-key-" not in caplog.text
    assert not (paths.config_dir() / "webhook_keys.json").exists()


def test_without_a_keyring_the_keys_go_to_a_private_file() -> None:
    keyring.set_keyring(fail.Keyring())
    where = Path(secrets.add_webhook_key(SigningKey("assignee", Secret("assignee-key"))))
    assert where == paths.config_dir() / "webhook_keys.json"
    assert stat.S_IMODE(where.stat().st_mode) == 0o600
    assert json.loads(where.read_text()) == {"keys": [{"label": "assignee", "key": "assignee-key"}]}
    assert secrets.load_webhook_keys() == [SigningKey("assignee", Secret("assignee-key"))]


def test_an_unreadable_key_file_or_a_bad_entry_is_skipped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    keyring.set_keyring(fail.Keyring())
    paths.ensure_dir(paths.config_dir())
    file = paths.config_dir() / "webhook_keys.json"
    file.write_text("{oops")
    assert secrets.load_webhook_keys() == []
    file.write_text(json.dumps({"keys": [{"label": "bad label", "key": "k"}, {"label": "closed", "key": "k2"}]}))
    assert secrets.load_webhook_keys() == [SigningKey("closed", Secret("k2"))]
    assert "ignoring a stored signing key" in caplog.text


def test_a_key_left_in_the_settings_file_moves_to_the_stored_keys(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"webhook_secret": "typed-into-the-old-field-8642"}), encoding="utf-8")
    settings = Settings.load(path)
    assert move_settings_key(settings) == "key"
    assert secrets.load_webhook_keys() == [SigningKey("key", Secret("typed-into-the-old-field-8642"))]
    assert "webhook_secret" not in json.loads(path.read_text(encoding="utf-8"))
    assert settings.get(WEBHOOK_SECRET) == ""
    assert move_settings_key(Settings.load(path)) is None  # once only
    # A stored key of that label is kept; the moved one gets a label of its own.
    path.write_text(json.dumps({"webhook_secret": "another-old-key-1357"}), encoding="utf-8")
    assert move_settings_key(Settings.load(path)) == "key-from-settings"
    assert [k.label for k in secrets.load_webhook_keys()] == ["key", "key-from-settings"]

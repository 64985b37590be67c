"""The API token and the webhook signing keys: in the OS keyring, or in 0600 files where no keyring works.

`CLOSEOUT_API_TOKEN` overrides the stored token. Secrets are only ever handled as `Secret`s, so they cannot
reach a log line, an exception message or the database by accident. `keyring` is imported on first use:
finding its backend takes a tenth of a second that a start with the token in the environment, or in demo
mode, skips. The signing keys are one JSON document under one keyring entry (or in one file), because a
keyring cannot list its entries.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path

from app import paths
from app.domain.errors import ConfigError
from app.domain.secret import Secret
from app.domain.signing_keys import SigningKey, signing_key

log = logging.getLogger("closeout.secrets")

TOKEN_ENV = "CLOSEOUT_API_TOKEN"
SERVICE = "closeout"
ACCOUNT = "respond.io API token"
KEYS_ACCOUNT = "respond.io webhook signing keys"


def _file() -> Path:
    return paths.config_dir() / "token.json"


def _keys_file() -> Path:
    return paths.config_dir() / "webhook_keys.json"


def keyring_usable() -> bool:
    """True when the OS offers a real keyring backend (not keyring's "fail" or "null" stand-ins)."""
    import keyring
    from keyring.backends import fail, null

    return not isinstance(keyring.get_keyring(), fail.Keyring | null.Keyring)


def _keyring_get(account: str, fallback: str) -> str | None:
    """The keyring's entry for `account`, or None when there is none or no keyring works (it says so)."""
    if not keyring_usable():
        return None
    import keyring.errors

    try:
        return keyring.get_password(SERVICE, account)
    except keyring.errors.KeyringError as exc:
        log.warning("the keyring could not be read (%s); trying %s", type(exc).__name__, fallback)
        return None


def load_token() -> Secret | None:
    """The token in force: the environment, then the keyring, then the fallback file."""
    env = os.environ.get(TOKEN_ENV, "")
    if env.strip():
        return Secret(env)
    stored = _keyring_get(ACCOUNT, "the token file")
    if stored:
        return Secret(stored)
    try:
        data = json.loads(_file().read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        log.warning("the token file %s is unreadable; ignoring it", _file())
        return None
    token = data.get("token") if isinstance(data, dict) else None
    return Secret(token) if isinstance(token, str) and token.strip() else None


def store_token(token: Secret) -> str:
    """Keep the token for later sessions; returns where it went ("keyring" or the file's path)."""
    if keyring_usable():
        import keyring.errors

        try:
            keyring.set_password(SERVICE, ACCOUNT, token.reveal())
        except keyring.errors.KeyringError as exc:
            log.warning("the keyring refused the token (%s); using a private file instead", type(exc).__name__)
        else:
            _remove_file()
            return "keyring"
    path = _file()
    _write_private(path, {"token": token.reveal()})
    log.warning("no OS keyring is available; the token is stored in %s, readable only by you", path)
    return str(path)


def _write_private(path: Path, document: object) -> None:
    """Write JSON readable only by the user, atomically (a crash never leaves half a file)."""
    paths.ensure_dir(path.parent)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(document, handle)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def clear_token() -> None:
    """Forget the stored token (the environment variable, if set, still applies)."""
    if keyring_usable():
        import keyring.errors

        with contextlib.suppress(keyring.errors.KeyringError):
            keyring.delete_password(SERVICE, ACCOUNT)
    _remove_file()


def _remove_file() -> None:
    with contextlib.suppress(FileNotFoundError):
        _file().unlink()


# -- webhook signing keys ------------------------------------------------------------------------------------


def load_webhook_keys() -> list[SigningKey]:
    """The stored signing keys, in the order they were added: the keyring's, else the private file's."""
    stored = _keyring_get(KEYS_ACCOUNT, "the signing-key file")
    document = _json_or_none(stored, "the keyring's signing keys") if stored else None
    if document is None:
        try:
            text = _keys_file().read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except OSError:
            log.warning("the signing-key file %s is unreadable; ignoring it", _keys_file())
            return []
        document = _json_or_none(text, str(_keys_file()))
    return _keys_from(document)


def _json_or_none(text: str, where: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        log.warning("%s are not readable JSON; ignoring them", where)
        return None


def _keys_from(document: object) -> list[SigningKey]:
    entries = document.get("keys") if isinstance(document, dict) else None
    keys: list[SigningKey] = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
            continue
        try:
            keys.append(signing_key(str(entry.get("label", "")), entry["key"]))
        except ConfigError as exc:
            log.warning("ignoring a stored signing key: %s", exc.message)
    return keys


def store_webhook_keys(keys: list[SigningKey]) -> str:
    """Keep exactly these signing keys; returns where they went ("keyring" or the file's path)."""
    document = {"keys": [{"label": k.label, "key": k.key.reveal()} for k in keys]}
    if keyring_usable():
        import keyring.errors

        try:
            keyring.set_password(SERVICE, KEYS_ACCOUNT, json.dumps(document))
        except keyring.errors.KeyringError as exc:
            log.warning("the keyring refused the signing keys (%s); using a private file instead", type(exc).__name__)
        else:
            with contextlib.suppress(FileNotFoundError):
                _keys_file().unlink()
            return "keyring"
    _write_private(_keys_file(), document)
    return str(_keys_file())


def add_webhook_key(key: SigningKey) -> str:
    """Add a signing key, replacing the one with the same label (a key respond.io regenerated)."""
    keys = [k for k in load_webhook_keys() if k.label != key.label]
    return store_webhook_keys([*keys, key])


def remove_webhook_key(label: str) -> bool:
    """Forget the key with this label; False when there was none."""
    keys = load_webhook_keys()
    kept = [k for k in keys if k.label != label]
    if len(kept) == len(keys):
        return False
    store_webhook_keys(kept)
    return True

"""The API token: in the OS keyring, or in a private file where no keyring works (headless Linux).

`CLOSEOUT_API_TOKEN` overrides both. The token is only ever handled as a `Secret`, so it cannot reach
a log line, an exception message or the database by accident. `keyring` is imported on first use: finding
its backend takes a tenth of a second that a start with the token in the environment, or in demo mode, skips.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path

from app import paths, portable
from app.domain.secret import Secret

log = logging.getLogger("closeout.secrets")

TOKEN_ENV = "CLOSEOUT_API_TOKEN"
SERVICE = "closeout"
ACCOUNT = "respond.io API token"


def _file() -> Path:
    return paths.config_dir() / "token.json"


def keyring_usable() -> bool:
    """True when the OS offers a real keyring backend (not keyring's "fail" or "null" stand-ins)."""
    import keyring
    from keyring.backends import fail, null

    return not isinstance(keyring.get_keyring(), fail.Keyring | null.Keyring)


def load_token() -> Secret | None:
    """The token in force: the environment, then the keyring, then the fallback file."""
    env = os.environ.get(TOKEN_ENV, "")
    if env.strip():
        return Secret(env)
    if keyring_usable():
        import keyring.errors

        try:
            stored = keyring.get_password(SERVICE, ACCOUNT)
        except keyring.errors.KeyringError as exc:
            log.warning("the keyring could not be read (%s); trying the token file", type(exc).__name__)
        else:
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
    paths.ensure_dir(path.parent)
    portable.write_private_file(path, json.dumps({"token": token.reveal()}))
    where = portable.keyring_name()
    log.warning("%s did not take the token; it is stored in %s, %s", where, path, portable.private_file_protection())
    return str(path)


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

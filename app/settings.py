"""Every setting, declared once with its type, default and description.

The declarations drive the settings file, the environment overrides, the Settings dialog and the CLI.
Values come from, in order of precedence: the environment (`CLOSEOUT_*`), the settings file, the default.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

from app import paths, portable
from app.domain.availability import zone_named
from app.domain.errors import ConfigError

log = logging.getLogger("closeout.settings")

T = TypeVar("T", str, int, float, bool)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_KIND_WORDS = {str: "text", int: "whole number", float: "number", bool: "yes or no"}


@dataclass(frozen=True, slots=True)
class Setting(Generic[T]):
    """One setting: its key in the file, its type, default, words for people, and bounds for numbers."""

    key: str
    kind: type[T]
    default: T
    label: str
    description: str
    env: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    secret: bool = False
    check: Callable[[Any], object] | None = None
    """Raises ConfigError, in words, for a value of the right type that still cannot be used."""
    in_form: bool = True
    """False for a setting the settings form leaves out because another part of the window manages it."""

    def parse(self, raw: object) -> T:
        """Turn a value from the file, the environment or a form into this setting's type, or say why not."""
        try:
            value: Any
            if self.kind is bool:
                if isinstance(raw, bool):
                    value = raw
                elif str(raw).strip().lower() in _TRUE:
                    value = True
                elif str(raw).strip().lower() in _FALSE:
                    value = False
                else:
                    raise ValueError(raw)
            elif self.kind is str:
                value = str(raw).strip()
            elif isinstance(raw, bool):
                raise ValueError(raw)
            else:
                value = self.kind(str(raw).strip())
        except (TypeError, ValueError):
            raise ConfigError(
                f"{self.label}: {raw!r} is not a {_KIND_WORDS[self.kind]}.", "Enter a value of the right kind."
            ) from None
        self.check_bounds(value)
        if self.check is not None:
            self.check(value)
        return cast(T, value)

    def check_bounds(self, value: object) -> None:
        """Raise ConfigError unless a number lies within the declared minimum and maximum (and is finite)."""
        if not isinstance(value, int | float) or isinstance(value, bool):
            return
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{self.label} must be a finite number, not {value!r}.")
        if self.minimum is not None and value < self.minimum:
            raise ConfigError(f"{self.label} must be at least {self.minimum:g}, not {value:g}.")
        if self.maximum is not None and value > self.maximum:
            raise ConfigError(f"{self.label} must be at most {self.maximum:g}, not {value:g}.")


def check_database_url(url: str) -> None:
    """Refuse a database URL that SQLAlchemy cannot read or has no dialect for; empty means the default file."""
    if not url:
        return
    # Imported here: SQLAlchemy is heavy, and most uses of the settings never open a database.
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    example = "e.g. sqlite:////home/me/closeout.sqlite3 or postgresql+psycopg://user@host/closeout"
    try:
        make_url(url).get_dialect()
    except ArgumentError:
        raise ConfigError(f"{url!r} is not a database URL ({example}).") from None
    except NoSuchModuleError:
        raise ConfigError(f"{url!r} names a kind of database Closeout cannot open ({example}).") from None


API_URL = Setting(
    "api_url",
    str,
    "https://api.respond.io/v2",
    "API URL",
    "The respond.io Developer API base URL. Change it only to point Closeout at a test server.",
    env="CLOSEOUT_API_URL",
)
DB_URL = Setting(
    "db_url",
    str,
    "",
    "Database location",
    "An SQLAlchemy URL. Empty means the closeout.sqlite3 file in Closeout's data folder.",
    env="CLOSEOUT_DB_URL",
    check=check_database_url,
)
POLL_SECONDS = Setting(
    "poll_seconds",
    int,
    60,
    "Poll interval (s)",
    "How often Closeout pages through contacts to catch closes that no webhook reported.",
    env="CLOSEOUT_POLL_SECONDS",
    minimum=5,
    maximum=86_400,
)
WEBHOOK_PORT = Setting(
    "webhook_port",
    int,
    0,
    "Webhook port",
    "The local port that receives respond.io webhooks at /webhook. 0 turns the receiver off.",
    env="CLOSEOUT_WEBHOOK_PORT",
    minimum=0,
    maximum=65_535,
)
WEBHOOK_SECRET = Setting(
    "webhook_secret",
    str,
    "",
    "Extra webhook signing key",
    "One more signing key, accepted besides those in the signing-keys list (respond.io shows one key per "
    "webhook; keep those in the list, which the keyring holds). Closeout refuses webhooks no key signed.",
    env="CLOSEOUT_WEBHOOK_SECRET",
    secret=True,
    # The form would write a key typed here to the settings file; Settings' signing-keys table keeps it in the keyring.
    in_form=False,
)
TIME_ZONE = Setting(
    "time_zone",
    str,
    "",
    "Time zone of working hours",
    "The zone the agents' working hours on the Team page are in, as an IANA name such as Europe/Berlin. "
    "Empty means this computer's zone.",
    env="CLOSEOUT_TIME_ZONE",
    check=zone_named,
)
RATE_LIMIT_PER_S = Setting(
    "rate_limit_per_s",
    float,
    5.0,
    "Requests per second",
    "The most requests per second Closeout sends to one API endpoint; respond.io's headers can lower it.",
    env="CLOSEOUT_RATE_LIMIT",
    minimum=0.1,
    maximum=1000,
)
REQUEST_TIMEOUT_S = Setting(
    "request_timeout_s",
    float,
    30.0,
    "Request timeout (s)",
    "How long Closeout waits for one answer from the platform before it retries.",
    env="CLOSEOUT_REQUEST_TIMEOUT",
    minimum=1,
    maximum=300,
)
DEMO_CLOSES_PER_MINUTE = Setting(
    "demo_closes_per_minute",
    float,
    20.0,
    "Demo closes per minute",
    "How busy the built-in demo workspace is.",
    env="CLOSEOUT_DEMO_RATE",
    minimum=0,
    maximum=60_000,
)
LEASE_SECONDS = Setting(
    "lease_seconds",
    float,
    6.0,
    "Runner lease (s)",
    "When several Closeout windows or tools share one database, one sends and polls; if it stops answering "
    "for this long, another takes over.",
    env="CLOSEOUT_LEASE_SECONDS",
    minimum=1,
    maximum=600,
)

ALL_SETTINGS: tuple[Setting[Any], ...] = (
    API_URL,
    DB_URL,
    POLL_SECONDS,
    WEBHOOK_PORT,
    WEBHOOK_SECRET,
    TIME_ZONE,
    RATE_LIMIT_PER_S,
    REQUEST_TIMEOUT_S,
    DEMO_CLOSES_PER_MINUTE,
    LEASE_SECONDS,
)
FORM_SETTINGS: tuple[Setting[Any], ...] = tuple(s for s in ALL_SETTINGS if s.in_form)
_BY_KEY = {s.key: s for s in ALL_SETTINGS}


def setting_named(key: str) -> Setting[Any]:
    """The declaration for `key`, or a ConfigError naming the known keys."""
    try:
        return _BY_KEY[key]
    except KeyError:
        raise ConfigError(f"There is no setting called {key!r}.", "Known: " + ", ".join(_BY_KEY) + ".") from None


class Settings:
    """The values in force, and the file they were loaded from."""

    def __init__(self, values: dict[str, Any] | None = None, path: Path | None = None) -> None:
        """Start from file values (already parsed); the environment is read on every `get`."""
        self._values: dict[str, Any] = dict(values or {})
        self.path = path

    @classmethod
    def load(cls, path: Path | None = None) -> Settings:
        """Read the settings file; a missing file means defaults, an unreadable one is logged and left alone."""
        path = path or paths.settings_path()
        values: dict[str, Any] = {}
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raw = {}
        except (OSError, ValueError) as exc:
            log.warning("settings file %s is unreadable (%s); using defaults and leaving it as it is", path, exc)
            raw = {}
        if isinstance(raw, dict):
            for key, value in raw.items():
                setting = _BY_KEY.get(key)
                if setting is None:
                    continue
                try:
                    values[key] = setting.parse(value)
                except ConfigError as exc:
                    log.warning("ignoring a bad value in %s: %s", path, exc.message)
        return cls(values, path)

    def get(self, setting: Setting[T]) -> T:
        """The value in force: environment, then file, then default."""
        if setting.env and (raw := os.environ.get(setting.env)) is not None:
            return setting.parse(raw)
        if setting.key in self._values:
            return cast(T, self._values[setting.key])
        return setting.default

    def source(self, setting: Setting[Any]) -> str:
        """Where the value in force comes from: "environment", "file" or "default"."""
        if setting.env and setting.env in os.environ:
            return "environment"
        return "file" if setting.key in self._values else "default"

    def set(self, setting: Setting[T], value: object) -> None:
        """Parse and keep a new value; `save` writes it."""
        self._values[setting.key] = setting.parse(value)

    def reset(self, setting: Setting[Any]) -> None:
        """Go back to the default."""
        self._values.pop(setting.key, None)

    def file_beside(self, name: str) -> Path:
        """A file of Closeout's own in the settings file's folder (created), so CLOSEOUT_HOME moves it too."""
        return paths.ensure_dir((self.path or paths.settings_path()).parent) / name

    def save(self) -> None:
        """Write the file values atomically (a crash never leaves half a file), private to the user."""
        path = self.path or paths.settings_path()
        paths.ensure_dir(path.parent)
        portable.write_private_file(path, json.dumps(self._values, indent=2, sort_keys=True))
        self.path = path

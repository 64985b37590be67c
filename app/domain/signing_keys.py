"""Webhook signing keys: respond.io shows one per webhook, and a webhook is one URL plus one event.

Closeout listens to three events, so a lead holds three keys. Each key carries a label naming the event it
belongs to, so the receiver can say which one matched without ever showing the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.domain.errors import ConfigError
from app.domain.secret import Secret

# The labels Closeout suggests, and the webhook event each stands for in respond.io's settings.
EVENT_LABELS: dict[str, str] = {
    "closed": "Conversation Closed",
    "opened": "Conversation Opened",
    "assignee": "Contact Assignee Updated",
}
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One webhook's signing key and the label that names it in logs and in Settings."""

    label: str
    key: Secret

    @property
    def event(self) -> str:
        """The respond.io event this key's label stands for, or the label itself for a label of the lead's own."""
        return EVENT_LABELS.get(self.label, self.label)


def check_label(raw: str) -> str:
    """A label as stored, or ConfigError saying what a label may be."""
    label = raw.strip()
    if not _LABEL.match(label):
        raise ConfigError(
            f"{raw[:60]!r} is not a key label.",
            "Use a short word such as closed, opened or assignee (letters, digits, '.', '_' or '-').",
        )
    return label


def signing_key(label: str, key: str) -> SigningKey:
    """A checked key: a valid label and a key that is not empty (an empty key would verify nothing)."""
    secret = Secret(key)
    if not secret:
        raise ConfigError(f"The signing key for {label.strip()[:60]!r} is empty.", "Paste the key respond.io shows.")
    return SigningKey(check_label(label), secret)


def parse_key_option(raw: str, position: int) -> SigningKey:
    """A `--webhook-secret` value: `closed=KEY` (one of the known labels) or a bare key, labelled `key-N`.

    Only the known labels are read as a prefix: a key may itself contain `=`, as base64 keys do.
    """
    label, sep, rest = raw.partition("=")
    if sep and label.strip() in EVENT_LABELS:
        return signing_key(label, rest)
    return signing_key(f"key-{position}", raw)


def merged(*groups: tuple[SigningKey, ...] | list[SigningKey]) -> tuple[SigningKey, ...]:
    """Keys from several sources in order, each key held once (under the first label it came with).

    Two keys may share a label across sources (one given on the command line, one stored): both are accepted.
    """
    seen: set[Secret] = set()
    result: list[SigningKey] = []
    for group in groups:
        for key in group:
            if key.key not in seen:
                seen.add(key.key)
                result.append(key)
    return tuple(result)

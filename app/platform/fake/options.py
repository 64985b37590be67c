"""Every option of the fake platform in one place: the command-line flags and the defaults they stand for.

`closeout-cli fake-platform` adds these flags with `add_arguments` and turns the parsed values into
`create_fake_platform` keywords with `platform_options`; tests and benchmarks pass the same keywords.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any, Final

DEFAULT_TOKEN: Final = "demo-token"
WEBHOOK_EVENTS: Final = {
    "closed": "conversation.closed",
    "opened": "conversation.opened",
    "assignee": "contact.assignee.updated",
}
"""The three webhooks a lead registers, by the short label used on the command line."""
DEFAULT_WEBHOOK_SECRETS: Final = {label: f"demo-signing-key-{label}" for label in WEBHOOK_EVENTS}
"""respond.io shows one signing key per webhook, so the fake signs each event type with its own key."""
NEXT_FORMS: Final = ("bare", "v2", "relative")
"""How `pagination.next` is written: `bare` (no version segment, as the platform's own example shows),
`v2` (the request's own URL) or `relative` (a path without scheme and host)."""
ASSIGNEE_OPERATORS: Final = ("isEqualTo", "isNotEqualTo", "exists", "doesNotExist")
"""The operators the fake accepts on `assigneeUserId`; `--refuse-operator` turns some off (answered 400)."""


def resolve_webhook_secrets(shared: str | None = None, per_event: Mapping[str, str] | None = None) -> dict[str, str]:
    """The signing key of each event type: the defaults, then `shared` for all three, then `per_event`.

    `per_event` is keyed by label (`closed`) or by event type (`conversation.closed`); an unknown key or an
    empty value is a ValueError that names it.
    """
    keys = {WEBHOOK_EVENTS[label]: key for label, key in DEFAULT_WEBHOOK_SECRETS.items()}
    if shared is not None:
        if not shared:
            raise ValueError("a webhook signing key cannot be empty")
        keys = dict.fromkeys(keys, shared)
    by_type = {value: value for value in WEBHOOK_EVENTS.values()}
    for name, key in (per_event or {}).items():
        event_type = WEBHOOK_EVENTS.get(name) or by_type.get(name)
        if event_type is None:
            raise ValueError(f"{name!r} is not one of {', '.join(WEBHOOK_EVENTS)}")
        if not key:
            raise ValueError(f"the signing key for {name} is empty")
        keys[event_type] = key
    return keys


def parse_secrets(raw: str) -> dict[str, str]:
    """`closed=K1,opened=K2,assignee=K3` as a mapping; a ValueError says which part is wrong."""
    found: dict[str, str] = {}
    for part in raw.split(","):
        label, sep, key = part.strip().partition("=")
        if not sep:
            raise ValueError(f"{part.strip()!r} is not LABEL=KEY")
        found[label.strip()] = key.strip()
    resolve_webhook_secrets(per_event=found)  # validates
    return found


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `fake-platform` flags."""
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    add("--port", type=_port, default=0, help="port to listen on; 0 picks a free one (default)")
    add("--token", default=None, help=f"the Bearer token to accept (default {DEFAULT_TOKEN})")
    add("--seed", type=int, default=0, help="seed of the generated workspace (default 0)")
    add("--users", type=_positive_int, default=12, help="number of users (default 12)")
    add("--contacts", type=_count, default=200, help="number of contacts (default 200)")
    add(
        "--rate-limit",
        type=_non_negative,
        default=5.0,
        metavar="N",
        help="requests per endpoint per rate window; 0 = unlimited (default 5)",
    )
    add(
        "--rate-window",
        type=_positive,
        default=1.0,
        metavar="SECONDS",
        help="the period --rate-limit counts over; the platform publishes none (default 1)",
    )
    add(
        "--simulate",
        type=_non_negative,
        default=0.0,
        metavar="CLOSES_PER_MIN",
        help="run the inbox simulator at this many closes per minute (default off)",
    )
    add("--faults", default="", metavar="SPEC", help='fault probabilities, e.g. "429=0.05,449=0.01,timeout=0.01"')
    add("--webhook-url", action="append", default=[], metavar="URL", help="POST events here (repeatable)")
    add(
        "--webhook-secret",
        default=None,
        metavar="KEY",
        help="one signing key for all three webhooks (a shortcut for --webhook-secrets)",
    )
    add(
        "--webhook-secrets",
        type=_secrets,
        default=None,
        metavar="closed=K1,opened=K2,assignee=K3",
        help="each webhook's signing key (default demo-signing-key-closed, -opened and -assignee)",
    )
    add(
        "--next-form",
        choices=NEXT_FORMS,
        default="bare",
        help="how pagination.next is written: bare (no /v2, the platform's example; default), v2, relative",
    )
    add(
        "--refuse-operator",
        action="append",
        default=[],
        choices=ASSIGNEE_OPERATORS,
        metavar="OPERATOR",
        help="answer 400 to an assigneeUserId filter with this operator (repeatable), as a platform might",
    )


def platform_options(args: argparse.Namespace) -> dict[str, Any]:
    """`create_fake_platform` keywords from the parsed flags; a ValueError names the flag that is wrong."""
    from app.platform.fake.faults import parse_spec

    token = args.token if args.token is not None else DEFAULT_TOKEN
    if not token.strip() or any(ch.isspace() for ch in token):
        raise ValueError("--token must be a non-empty word without spaces")
    try:
        faults = parse_spec(args.faults)
    except ValueError as exc:
        raise ValueError(f"--faults: {exc}") from None
    for url in args.webhook_url:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"--webhook-url {url!r} is not an http(s) URL")
    try:
        secrets = resolve_webhook_secrets(args.webhook_secret, args.webhook_secrets)
    except ValueError as exc:
        raise ValueError(f"--webhook-secret: {exc}") from None
    return {
        "token": token,
        "seed": args.seed,
        "users": args.users,
        "contacts": args.contacts,
        "rate_limit": args.rate_limit,
        "rate_window": args.rate_window,
        "faults": faults,
        "closes_per_minute": args.simulate,
        "webhook_urls": args.webhook_url,
        "webhook_secrets": secrets,
        "next_form": args.next_form,
        "refused_operators": tuple(args.refuse_operator),
    }


def _secrets(raw: str) -> dict[str, str]:
    try:
        return parse_secrets(raw)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _port(raw: str) -> int:
    value = _int(raw)
    if not 0 <= value <= 65_535:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a port (0-65535)")
    return value


def _positive_int(raw: str) -> int:
    value = _int(raw)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{raw!r} must be at least 1")
    return value


def _count(raw: str) -> int:
    value = _int(raw)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{raw!r} cannot be negative")
    return value


def _int(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number") from None


def _non_negative(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a number") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{raw!r} must be a number of 0 or more")
    return value


def _positive(raw: str) -> float:
    value = _non_negative(raw)
    if value == 0:
        raise argparse.ArgumentTypeError(f"{raw!r} must be more than 0")
    return value

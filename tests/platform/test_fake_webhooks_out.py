"""The fake's outgoing webhooks reach a real loopback receiver, signed, and are retried while it is down."""

from __future__ import annotations

import argparse
import json
import socket
import threading
from collections.abc import Iterator

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.cli import main
from app.domain.conversations import AssigneeChanged, ClosedBySource, ClosedConversation
from app.domain.secret import Secret
from app.platform.client import PlatformClient
from app.platform.fake import IN_PROCESS_URL, create_fake_platform
from app.platform.fake.options import DEFAULT_WEBHOOK_SECRETS, WEBHOOK_EVENTS, add_arguments, platform_options
from app.platform.webhooks import SIGNATURE_HEADER, verify, verify_and_parse
from tests.helpers import wait_until

SECRET = "receiver-signing-key"


class Receiver:
    """A webhook receiver on a port reserved up front; it answers only once `start()` is called."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.socket.bind(("127.0.0.1", 0))  # bound but not listening: connections are refused
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}/hook"
        self.received: list[tuple[bytes, str | None]] = []

        async def hook(request: Request) -> Response:
            self.received.append((await request.body(), request.headers.get(SIGNATURE_HEADER)))
            return Response(status_code=200)

        config = uvicorn.Config(
            Starlette(routes=[Route("/hook", hook, methods=["POST"])]),
            lifespan="off",
            ws="none",
            log_level="warning",
            access_log=False,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(10)
        self.socket.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    yield hook
    hook.stop()


async def test_webhooks_are_signed_and_retried_until_the_receiver_is_up(receiver: Receiver) -> None:
    platform = create_fake_platform(
        contacts=10,
        seed=3,
        rate_limit=0,
        webhook_urls=[receiver.url],
        webhook_secret=SECRET,
        webhook_backoff=0.1,
        webhook_retries=6,
    )
    await platform.start()
    try:
        async with PlatformClient(
            IN_PROCESS_URL, Secret("demo-token"), rate_limit=0, transport=platform.transport()
        ) as client:
            assert platform.state.contacts[3].status == "open"
            await client.unassign(3)
            webhooks = platform.webhooks
            assert webhooks is not None
            await wait_until(lambda: webhooks.stats["retries"] >= 2)
            assert receiver.received == []
            receiver.start()
            await wait_until(lambda: len(receiver.received) == 1, timeout=10)
            await client.close_conversation(3, category="Spam")
            await wait_until(lambda: len(receiver.received) == 2, timeout=10)
    finally:
        await platform.stop()
    events = [verify_and_parse(SECRET, body, signature) for body, signature in receiver.received]
    assert isinstance(events[0], AssigneeChanged) and events[0].contact.assignee is None
    assert isinstance(events[1], ClosedConversation)
    assert events[1].closed_by_source is ClosedBySource.API
    assert events[1].category == "Spam"
    assert webhooks.stats["delivered"] == 2
    assert webhooks.stats["failed"] == 0


async def test_publishing_never_waits_for_a_dead_receiver(receiver: Receiver) -> None:
    platform = create_fake_platform(
        contacts=10, rate_limit=0, webhook_urls=[receiver.url], webhook_secret=SECRET, webhook_backoff=5
    )
    await platform.start()
    try:
        async with PlatformClient(
            IN_PROCESS_URL, Secret("demo-token"), rate_limit=0, transport=platform.transport()
        ) as client:
            for contact_id in range(1, 11):
                await client.unassign(contact_id)
        assert platform.webhooks is not None
        assert platform.webhooks.pending + platform.webhooks.stats["attempts"] >= 10
        assert len(platform.log.since(0)[0]) == 10
    finally:
        await platform.stop()


async def test_each_event_type_is_signed_with_its_own_key_by_default(receiver: Receiver) -> None:
    platform = create_fake_platform(contacts=10, seed=3, rate_limit=0, webhook_urls=[receiver.url])
    keys = DEFAULT_WEBHOOK_SECRETS
    assert len(set(keys.values())) == 3
    receiver.start()
    await platform.start()
    try:
        state = platform.state
        contact = state.contacts[3]
        state.assign(contact, state.users[2])
        state.close_conversation(contact, "user", state.users[2])
        state.open_conversation(contact, "contact", first_message="hello again")
        await wait_until(lambda: len(receiver.received) == 3, timeout=10)
    finally:
        await platform.stop()
    by_type = {json.loads(body)["event_type"]: (body, signature) for body, signature in receiver.received}
    for label, event_type in WEBHOOK_EVENTS.items():
        body, signature = by_type[event_type]
        assert verify(keys[label], body, signature), f"{event_type} is not signed with the {label} key"
        others = [key for other, key in keys.items() if other != label]
        assert not any(verify(key, body, signature) for key in others)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ([], {t: DEFAULT_WEBHOOK_SECRETS[label] for label, t in WEBHOOK_EVENTS.items()}),
        (["--webhook-secret", "one"], dict.fromkeys(WEBHOOK_EVENTS.values(), "one")),
        (
            ["--webhook-secrets", "closed=K1,opened=K2,assignee=K3"],
            {"conversation.closed": "K1", "conversation.opened": "K2", "contact.assignee.updated": "K3"},
        ),
        (
            ["--webhook-secret", "one", "--webhook-secrets", "opened=K2"],
            {"conversation.closed": "one", "conversation.opened": "K2", "contact.assignee.updated": "one"},
        ),
    ],
)
def test_the_command_line_sets_the_keys(flags: list[str], expected: dict[str, str]) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    options = platform_options(parser.parse_args(flags))
    assert create_fake_platform(**options).webhook_secrets == expected


def test_a_wrong_key_list_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fake-platform", "--webhook-secrets", "closed=K1,bogus=K2"]) == 2
    assert "'bogus' is not one of closed, opened, assignee" in capsys.readouterr().err
    assert main(["fake-platform", "--webhook-secrets", "closed"]) == 2
    assert "is not LABEL=KEY" in capsys.readouterr().err

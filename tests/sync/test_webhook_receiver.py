"""The webhook receiver on a real loopback socket, holding the three keys of respond.io's three webhooks."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from app import secrets
from app.domain.secret import Secret
from app.domain.signing_keys import SigningKey
from app.events import EventBus
from app.platform.webhooks import SIGNATURE_HEADER, sign
from app.sync import service as service_module
from app.sync.service import SyncOptions, SyncService
from app.sync.webhook_receiver import MAX_BODY
from tests.sync.conftest import Rig

KEYS = {"closed": "key-for-closed-4f1", "opened": "key-for-opened-9c2", "assignee": "key-for-assignee-77a"}


@pytest.fixture
async def receiver(rig: Rig) -> AsyncIterator[SyncService]:
    """A sync service whose receiver listens on loopback with one key per event."""
    keys = tuple(SigningKey(label, Secret(key)) for label, key in KEYS.items())
    options = SyncOptions(poll_seconds=3600, webhook_port=0, webhook_keys=keys)
    service = SyncService(rig.store, rig.service.client, EventBus(), options)
    await service.start(poll=False, drain=False)
    try:
        yield service
    finally:
        await service.stop()


def _bodies(rig: Rig) -> dict[str, bytes]:
    """One real-shaped body of each event type, as the fake workspace emits them."""
    bodies: list[bytes] = []
    rig.fake.add_listener(bodies.append)
    try:
        contact = rig.assigned_contacts()[0]
        rig.close(contact)
        other = rig.assigned_contacts()[0]
        rig.fake.state.assign(other, None)
        rig.fake.state.open_conversation(contact, "contact")
    finally:
        rig.fake.remove_listener(bodies.append)
    by_type = {json.loads(b)["event_type"]: b for b in bodies}
    return {
        "closed": by_type["conversation.closed"],
        "opened": by_type["conversation.opened"],
        "assignee": by_type["contact.assignee.updated"],
    }


async def _post(url: str, body: bytes, key: str | None) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if key is not None:
        headers[SIGNATURE_HEADER] = sign(key, body)
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.post(url, content=body, headers=headers)


async def test_each_event_is_accepted_under_its_own_key_and_the_log_names_the_key_not_its_value(
    rig: Rig, receiver: SyncService, caplog: pytest.LogCaptureFixture
) -> None:
    assert receiver.webhook_url is not None
    bodies = _bodies(rig)
    caplog.set_level(logging.INFO, logger="closeout")
    for label, body in bodies.items():
        response = await _post(receiver.webhook_url, body, KEYS[label])
        assert response.status_code == 200, response.text
        assert response.json() == {"ok": True}
    assert rig.store.closes.count() == 1
    verified = [r.getMessage() for r in caplog.records if "verified with the" in r.getMessage()]
    assert [m.rsplit("'", 2)[1] for m in verified] == ["closed", "opened", "assignee"]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert not any(key in logged for key in KEYS.values())
    assert receiver.webhook_counters is not None and receiver.webhook_counters.accepted == 3


async def test_a_body_signed_with_no_key_held_is_refused_with_401_and_stores_nothing(
    rig: Rig, receiver: SyncService
) -> None:
    assert receiver.webhook_url is not None
    body = _bodies(rig)["closed"]
    for key in ("a-key-from-another-workspace", None):
        response = await _post(receiver.webhook_url, body, key)
        assert response.status_code == 401
        assert "matches none of the signing keys" in response.json()["message"]
    tampered = body.replace(b"Resolved", b"Billing")
    assert tampered != body
    headers = {SIGNATURE_HEADER: sign(KEYS["closed"], body)}  # the signature of the body before it was changed
    async with httpx.AsyncClient(timeout=10) as client:
        assert (await client.post(receiver.webhook_url, content=tampered, headers=headers)).status_code == 401
    assert rig.store.closes.count() == 0


async def test_an_authenticated_event_closeout_does_not_act_on_gets_200(rig: Rig, receiver: SyncService) -> None:
    assert receiver.webhook_url is not None
    body = json.dumps({"event_type": "message.received", "event_id": "m-1", "contact": {"id": 1}}).encode()
    response = await _post(receiver.webhook_url, body, KEYS["opened"])
    assert response.status_code == 200
    assert response.json() == {"ok": True, "ignored": "Closeout does not act on 'message.received' events."}
    assert receiver.webhook_counters is not None and receiver.webhook_counters.ignored == 1
    assert rig.store.closes.count() == 0
    # Only an authenticated one: the same event unsigned, or signed with a key Closeout does not hold, is refused.
    assert (await _post(receiver.webhook_url, body, None)).status_code == 401
    assert (await _post(receiver.webhook_url, body, "not-a-key-closeout-holds")).status_code == 401
    assert receiver.webhook_counters.ignored == 1


@pytest.mark.parametrize(
    "body",
    [
        b"not json at all",
        b'["a", "list"]',
        b'{"event_id": "no-type"}',
        b'{"event_type": "conversation.closed", "event_id": "c-1", "contact": {"id": 1}}',
    ],
)
async def test_an_authenticated_body_that_is_not_the_platforms_json_stays_400(
    rig: Rig, receiver: SyncService, body: bytes
) -> None:
    assert receiver.webhook_url is not None
    response = await _post(receiver.webhook_url, body, KEYS["closed"])
    assert response.status_code == 400
    assert response.json()["message"]
    assert rig.store.closes.count() == 0


async def test_a_key_added_while_running_is_accepted_and_a_removed_one_refused(rig: Rig, receiver: SyncService) -> None:
    assert receiver.webhook_url is not None
    body = _bodies(rig)["opened"]
    rotated = SigningKey("opened", Secret("regenerated-opened-key"))
    assert (await _post(receiver.webhook_url, body, rotated.key.reveal())).status_code == 401
    receiver.set_webhook_keys((rotated,))
    assert (await _post(receiver.webhook_url, body, rotated.key.reveal())).status_code == 200
    receiver.set_webhook_keys(())
    assert (await _post(receiver.webhook_url, body, rotated.key.reveal())).status_code == 401
    # The keys given at start stay: only stored keys come and go.
    assert (await _post(receiver.webhook_url, body, KEYS["opened"])).status_code == 200


def _chunked_upload(host: str, port: int, chunks: Iterator[bytes]) -> tuple[int, int]:
    """Send a chunked POST until the server answers or stops reading; returns (status, bytes sent)."""
    sent = 0
    with socket.create_connection((host, port), timeout=30) as sock:
        head = (
            f"POST /webhook HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
        )
        sock.sendall(head.encode())
        try:
            for chunk in chunks:
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                sent += len(chunk)
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the receiver answered and closed before the upload ended, as it should
        answer = b""
        while b"\r\n" not in answer:
            data = sock.recv(4096)
            if not data:
                break
            answer += data
    return int(answer.split(b" ", 2)[1]), sent


async def test_a_huge_chunked_upload_is_cut_off_at_the_limit_and_memory_stays_flat(
    rig: Rig, receiver: SyncService
) -> None:
    assert receiver.webhook_url is not None and receiver.webhook_counters is not None
    url = httpx.URL(receiver.webhook_url)
    host, port = url.host, url.port
    assert port is not None
    piece = b"x" * 65_536
    total = 200 * 1024 * 1024  # 200 MB offered, unsigned

    def pieces() -> Iterator[bytes]:
        for _ in range(total // len(piece)):
            yield piece

    status, sent = await asyncio.to_thread(_chunked_upload, host, port, pieces())
    assert status == 413
    read = receiver.webhook_counters.body_bytes_read
    # The receiver read past the limit by at most what the server had buffered, never the whole upload.
    assert MAX_BODY < read < 2 * MAX_BODY
    assert sent < total
    assert rig.store.closes.count() == 0


async def test_a_declared_length_over_the_limit_is_refused_before_reading(rig: Rig, receiver: SyncService) -> None:
    assert receiver.webhook_url is not None and receiver.webhook_counters is not None
    body = b"{" + b" " * (MAX_BODY + 10) + b"}"
    response = await _post(receiver.webhook_url, body, KEYS["closed"])
    assert response.status_code == 413
    assert "larger than 1,000,000 bytes" in response.json()["message"]
    assert receiver.webhook_counters.body_bytes_read == 0


async def test_keys_stored_by_another_process_reach_a_running_receiver(
    rig: Rig, receiver: SyncService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`closeout-cli webhook-keys add|remove` while `sync --forever` runs: the receiver follows the store."""
    assert receiver.webhook_url is not None
    await receiver.use_stored_keys(secrets.load_webhook_keys)
    body = _bodies(rig)["assignee"]
    added = SigningKey("assignee", Secret("added-by-the-cli-5e0"))
    # What the other process does: write the store, nothing else.
    secrets.add_webhook_key(added)
    monkeypatch.setattr(service_module, "KEYS_RETRY_SECONDS", 0.0)
    assert (await _post(receiver.webhook_url, body, added.key.reveal())).status_code == 200
    # A body no key signed reads the store again only every KEYS_RETRY_SECONDS.
    monkeypatch.setattr(service_module, "KEYS_RETRY_SECONDS", 3600.0)
    secrets.add_webhook_key(SigningKey("other", Secret("added-a-moment-later-1d4")))
    assert (await _post(receiver.webhook_url, body, "added-a-moment-later-1d4")).status_code == 401
    # A removed key stops being accepted once the keys in force are older than KEYS_FRESH_SECONDS.
    secrets.remove_webhook_key("assignee")
    monkeypatch.setattr(service_module, "KEYS_FRESH_SECONDS", 0.0)
    assert (await _post(receiver.webhook_url, body, added.key.reveal())).status_code == 401
    assert (await _post(receiver.webhook_url, body, "added-a-moment-later-1d4")).status_code == 200

"""Which of a contact's channels a close happened on."""

from __future__ import annotations

from app.domain.workspace import Channel
from app.sync.channels import channel_of
from tests.factories import close

CLOSED = 1_700_000_000


def test_the_channel_the_contact_last_wrote_on_before_the_close_is_the_conversations() -> None:
    channels = [
        Channel(1, "WhatsApp", last_message_time=CLOSED - 10, last_incoming_message_time=CLOSED - 600),
        Channel(2, "Instagram", last_message_time=CLOSED - 900, last_incoming_message_time=CLOSED - 300),
        Channel(3, "Telegram", last_message_time=CLOSED + 60, last_incoming_message_time=CLOSED + 30),  # after
    ]
    assert channel_of(close(5, closed_time=CLOSED), channels) == "Instagram"


def test_without_incoming_times_the_last_message_decides_and_a_lone_channel_is_the_one() -> None:
    outgoing = [
        Channel(1, "WhatsApp", last_message_time=CLOSED - 50),
        Channel(2, "Email", last_message_time=CLOSED - 5),
    ]
    assert channel_of(close(5, closed_time=CLOSED), outgoing) == "Email"
    assert channel_of(close(5, closed_time=CLOSED), [Channel(4, "Website Chat")]) == "Website Chat"


def test_no_channel_or_no_telling_which_is_an_empty_name_not_a_guess() -> None:
    assert channel_of(close(5, closed_time=CLOSED), []) == ""
    assert channel_of(close(5, closed_time=CLOSED), [Channel(1, "WhatsApp"), Channel(2, "Email")]) == ""

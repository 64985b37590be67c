from __future__ import annotations

import pytest

from app.domain.people import AgentRole, ContactStatus, UserRef
from app.platform import mapping


def test_contact_from_the_documented_shape() -> None:
    contact = mapping.contact(
        {
            "id": 12345,
            "firstName": "Muhammad",
            "lastName": "Mahin",
            "phone": "+60123456789",
            "email": "test@example.com",
            "status": "open",
            "tags": ["vip", {"name": "new"}, 3],
            "assignee": {"id": 1, "firstName": "A", "lastName": "B", "email": "a@b.c"},
            "created_at": 1663274081,
        }
    )
    assert contact.assignee == UserRef(1, "A", "B", "a@b.c")
    assert contact.tags == ("vip", "new")
    assert contact.status is ContactStatus.OPEN
    assert contact.created_at == 1663274081


def test_contact_parsing_is_lenient_where_sources_disagree() -> None:
    contact = mapping.contact(
        {"id": "17", "firstName": None, "status": "close", "assignee": {}, "created_at": 1663274081000, "email": ""}
    )
    assert (contact.id, contact.first_name, contact.email, contact.assignee) == (17, "", None, None)
    assert contact.status is ContactStatus.CLOSED
    assert contact.created_at == 1663274081
    assert mapping.contact({"id": 1, "assignee": {"id": None, "firstName": None}}).assignee is None
    assert mapping.contact({"id": 1}).status is ContactStatus.UNKNOWN


@pytest.mark.parametrize(
    "bad", [None, [], {"id": None}, {"id": "x"}, {"id": True}, {"id": 1.5}, {"id": 1, "assignee": "me"}]
)
def test_a_contact_without_a_usable_id_is_refused(bad: object) -> None:
    with pytest.raises(mapping.MappingError):
        mapping.contact(bad)


def test_agent_with_team_and_role_and_no_presence() -> None:
    agent = mapping.agent(
        {
            "id": 5,
            "firstName": "J",
            "lastName": "W",
            "email": "j@w.x",
            "role": "Manager",
            "team": {"id": 2, "name": "S"},
        }
    )
    assert agent.role is AgentRole.MANAGER
    assert agent.team is not None and agent.team.name == "S"
    assert not hasattr(agent, "online")
    assert mapping.agent({"id": 6, "role": "robot", "team": None, "online": True}).role is AgentRole.AGENT
    # No presence is read from the platform, whatever a payload carries: availability is Closeout's own.
    assert mapping.agent({"id": 6, "online": True}) == mapping.agent({"id": 6})
    assert mapping.agent({"id": 6, "status": "Online"}) == mapping.agent({"id": 6})


def test_notes_and_channels() -> None:
    assert mapping.closing_note({"category": "Spam"}).description == ""
    with pytest.raises(mapping.MappingError):
        mapping.closing_note({"description": "no name"})
    channel = mapping.channel({"id": 3, "name": "WA", "source": "whatsapp", "lastMessageTime": 1700000000})
    assert (channel.id, channel.last_message_time, channel.last_incoming_message_time) == (3, 1700000000, None)

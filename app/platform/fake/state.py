"""The fake workspace's state: users, teams, contacts and their conversations, messages, comments and tags.

Everything is generated from a seed with `random.Random`, so two workspaces built with the same seed, sizes
and `now` are identical; event ids are seeded separately (`event_seed`), and random by default. The state
knows nothing of HTTP: the routes and the simulator call its methods, and each change the platform would
announce by webhook is handed to `on_event` as the webhook's JSON payload (a dict), in the envelope of
platform-api.md §6.

Choices where the platform's behaviour is unconfirmed:
- a contact's `status` is `"open"` or `"closed"`; closing does not unassign (the platform keeps the assignee,
  which is the whole reason for Closeout's first workflow);
- opening an open conversation, or closing a closed one, changes nothing and announces nothing;
- `firstResponseTime` and `resolutionTime` are sent as Unix times (first agent reply, close), like the sample;
- users carry exactly the SpaceUser fields (`id, firstName, lastName, email, role, team, restrictions`): the
  platform has no presence, so neither has the fake.
"""

from __future__ import annotations

import random
import time
import uuid
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from app.platform.fake import names

JsonDict = dict[str, Any]
EventSink = Callable[[JsonDict], None]

RESTRICTIONS = (
    "restrict_data_export",
    "restrict_contact_deletion",
    "restrict_space_setting",
    "show_team_contacts",
    "show_only_mine",
    "restrict_space_integration",
    "restrict_shortcuts",
)
_HISTORY_KEPT = 5
_MESSAGES_KEPT = 50
_NULL_USER: JsonDict = {"id": None, "firstName": None, "lastName": None, "email": None}


class IndexedSet:
    """A set of ints with O(1) add, remove and uniform random choice (the simulator picks from thousands)."""

    def __init__(self, items: Iterable[int] = ()) -> None:
        """Start with `items`."""
        self._items: list[int] = []
        self._index: dict[int, int] = {}
        for item in items:
            self.add(item)

    def add(self, item: int) -> None:
        """Add `item` if it is missing."""
        if item not in self._index:
            self._index[item] = len(self._items)
            self._items.append(item)

    def discard(self, item: int) -> None:
        """Remove `item` if present, by moving the last item into its place."""
        position = self._index.pop(item, None)
        if position is None:
            return
        last = self._items.pop()
        if position < len(self._items):
            self._items[position] = last
            self._index[last] = position

    def choice(self, rng: random.Random) -> int:
        """A uniformly chosen item; the set must not be empty."""
        return self._items[rng.randrange(len(self._items))]

    def __contains__(self, item: object) -> bool:
        return item in self._index

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[int]:
        return iter(list(self._items))


@dataclass(slots=True)
class FakeTeam:
    """A team of users."""

    id: int
    name: str


@dataclass(slots=True)
class FakeUser:
    """A workspace user (an agent, manager or owner)."""

    id: int
    first_name: str
    last_name: str
    email: str
    role: str
    team: FakeTeam | None
    restrictions: list[str]

    def ref(self) -> JsonDict:
        """The short user object the platform puts in `assignee` and `closedBy`."""
        return {"id": self.id, "firstName": self.first_name, "lastName": self.last_name, "email": self.email}

    def to_json(self) -> JsonDict:
        """The SpaceUser shape."""
        team = None if self.team is None else {"id": self.team.id, "name": self.team.name}
        return {**self.ref(), "role": self.role, "team": team, "restrictions": list(self.restrictions)}


@dataclass(slots=True)
class FakeConversation:
    """One conversation of a contact, from open to close."""

    opened_time: int
    opened_by_source: str
    channel_id: int
    closed_time: int | None = None
    closed_by_source: str | None = None
    closed_by_id: int | None = None
    category: str | None = None
    summary: str | None = None
    incoming: int = 0
    outgoing: int = 0
    first_response_time: int | None = None
    last_assignment_time: int | None = None

    @property
    def is_open(self) -> bool:
        """Not closed yet."""
        return self.closed_time is None


@dataclass(slots=True)
class FakeMessage:
    """One message in or out of a contact's channel."""

    id: int
    contact_id: int
    channel_id: int
    traffic: str
    text: str
    timestamp: int
    sender: JsonDict | None

    def to_json(self) -> JsonDict:
        """The message shape of `GET /contact/{identifier}/message/{id}`."""
        data: JsonDict = {
            "messageId": self.id,
            "channelMessageId": f"fake-{self.id}",
            "contactId": self.contact_id,
            "channelId": self.channel_id,
            "traffic": self.traffic,
            "message": {"type": "text", "text": self.text},
            "status": [{"value": "sent", "timestamp": self.timestamp}],
        }
        if self.sender is not None:
            data["sender"] = self.sender
        return data


@dataclass(slots=True)
class FakeContact:
    """A contact, its current (or last) conversation and a short history of earlier ones."""

    id: int
    first_name: str
    last_name: str
    phone: str | None
    email: str | None
    language: str
    country_code: str
    created_at: int
    channel_ids: list[int]
    status: str = "open"
    assignee_id: int | None = None
    tags: list[str] = field(default_factory=list)
    custom_fields: list[JsonDict] = field(default_factory=list)
    lifecycle: str | None = None
    conversation: FakeConversation | None = None
    history: list[FakeConversation] = field(default_factory=list)


class Workspace:
    """The whole fake workspace. Not thread-safe: it lives on the event loop that serves the fake."""

    def __init__(
        self,
        *,
        seed: int = 0,
        event_seed: int | None = None,
        users: int = 12,
        contacts: int = 200,
        now: float | None = None,
        clock: Callable[[], float] = time.time,
        on_event: EventSink | None = None,
        listening: Callable[[], bool] | None = None,
    ) -> None:
        """Generate the workspace; `now` anchors the generated history (default: the clock's time).

        `listening`, when given, says whether anyone wants events right now, so none are built for nobody.
        Event ids are random unless `event_seed` is given: consumers drop an event whose id they have seen,
        so a fake restarted with the same seed must not replay the ids of its previous run.
        """
        if users < 1:
            raise ValueError("a workspace needs at least one user")
        if contacts < 0:
            raise ValueError("the number of contacts cannot be negative")
        self.seed = seed
        self.clock = clock
        self.on_event = on_event
        self.listening = listening
        self._rng = random.Random(seed)
        self._ids = random.Random(None if event_seed is None else f"{event_seed}-event-ids")
        self.counters: Counter[str] = Counter()
        self.teams: list[FakeTeam] = []
        self.users: dict[int, FakeUser] = {}
        self.contacts: dict[int, FakeContact] = {}
        self.contact_ids: list[int] = []
        self.by_email: dict[str, int] = {}
        self.by_phone: dict[str, int] = {}
        self.open_ids = IndexedSet()
        self.closed_ids = IndexedSet()
        self.messages: dict[int, list[FakeMessage]] = {}
        self.comments: list[JsonDict] = []
        self.closing_notes = [{"category": c, "description": d} for c, d in names.CLOSING_NOTES]
        self.channels: list[JsonDict] = []
        self._next_message_id = 1000
        anchor = int(clock() if now is None else now)
        self._generate(users, contacts, anchor)

    # -- generation -------------------------------------------------------------------------------------

    def _generate(self, users: int, contacts: int, now: int) -> None:
        rng = self._rng
        start = now - 400 * 86_400
        for index, (name, source) in enumerate(names.CHANNELS, start=1):
            self.channels.append({"id": index, "name": name, "source": source, "created_at": start + index * 3600})
        self.teams = [FakeTeam(index, name) for index, name in enumerate(names.TEAMS, start=1)]
        used_emails: set[str] = set()
        for user_id in range(1, users + 1):
            first, last = rng.choice(names.FIRST_NAMES), rng.choice(names.LAST_NAMES)
            role = "owner" if user_id == 1 else ("manager" if rng.random() < 0.15 else "agent")
            email = self._unique_email(first, last, "closeout-demo.example", used_emails)
            restrictions = sorted(rng.sample(RESTRICTIONS, rng.randint(0, 2))) if role == "agent" else []
            team = None if role == "owner" else rng.choice(self.teams)
            rng.random()  # one draw per user is part of the seed's sequence: a seed keeps building the same workspace
            self.users[user_id] = FakeUser(user_id, first, last, email, role, team, restrictions)
        agent_ids = list(self.users)
        for contact_id in range(1, contacts + 1):
            first, last = rng.choice(names.FIRST_NAMES), rng.choice(names.LAST_NAMES)
            country, prefix, digits = rng.choice(names.PHONE_PREFIXES)
            phone = self._unique_phone(prefix, digits)
            contact_email: str | None = None
            if rng.random() < 0.8:
                contact_email = self._unique_email(first, last, rng.choice(names.EMAIL_DOMAINS), used_emails)
            created = now - rng.randint(3_600, 365 * 86_400)
            channel_ids = sorted(rng.sample(range(1, len(self.channels) + 1), rng.randint(1, 2)))
            contact = FakeContact(
                id=contact_id,
                first_name=first,
                last_name=last,
                phone=phone,
                email=contact_email,
                language=names.LANGUAGES[country],
                country_code=country,
                created_at=created,
                channel_ids=channel_ids,
                tags=sorted(rng.sample(("vip", "new", "returning", "wholesale", "complaint"), rng.randint(0, 2))),
                custom_fields=[{"name": "Customer tier", "value": rng.choice(("Bronze", "Silver", "Gold"))}],
                lifecycle=rng.choice((None, "New Lead", "Hot Lead", "Customer")),
            )
            self._add_contact(contact)
            opened = max(created, now - rng.randint(60, 20 * 86_400))
            conversation = FakeConversation(
                opened, rng.choice(("contact", "contact", "contact", "user")), channel_ids[0]
            )
            conversation.incoming = rng.randint(1, 6)
            contact.conversation = conversation
            if rng.random() < 0.75:
                contact.assignee_id = rng.choice(agent_ids)
                conversation.last_assignment_time = opened + rng.randint(5, 600)
                conversation.outgoing = rng.randint(1, 5)
                conversation.first_response_time = conversation.last_assignment_time + rng.randint(5, 300)
            self._add_message(contact, "incoming", rng.choice(names.INCOMING_TEXTS), opened, None)
            if rng.random() < 0.55:
                closed_at = min(now - 1, opened + rng.randint(300, 3 * 86_400))
                conversation.closed_time = closed_at
                conversation.closed_by_source = rng.choice(("user", "user", "user", "auto_close", "workflow"))
                if conversation.closed_by_source == "user" and contact.assignee_id is not None:
                    conversation.closed_by_id = contact.assignee_id
                conversation.category = rng.choice(self.closing_notes)["category"]
                contact.status = "closed"
        for contact_id in self.contact_ids:
            (self.open_ids if self.contacts[contact_id].status == "open" else self.closed_ids).add(contact_id)

    def _unique_email(self, first: str, last: str, domain: str, used: set[str]) -> str:
        base = "".join(ch for ch in f"{first}.{last}".lower() if ch.isascii() and (ch.isalnum() or ch in ".-"))
        email = f"{base}@{domain}"
        counter = 1
        while email in used:
            counter += 1
            email = f"{base}{counter}@{domain}"
        used.add(email)
        return email

    def _unique_phone(self, prefix: str, digits: int) -> str:
        while True:
            phone = prefix + "".join(str(self._rng.randrange(10)) for _ in range(digits))
            if phone not in self.by_phone:
                return phone

    def _add_contact(self, contact: FakeContact) -> None:
        self.contacts[contact.id] = contact
        self.contact_ids.append(contact.id)
        if contact.email:
            self.by_email[contact.email.lower()] = contact.id
        if contact.phone:
            self.by_phone[contact.phone] = contact.id

    # -- reading ----------------------------------------------------------------------------------------

    def now(self) -> int:
        """The clock's time in Unix seconds."""
        return int(self.clock())

    def find_contact(self, kind: str, value: str) -> FakeContact | None:
        """The contact for an identifier already split into kind and value."""
        if kind == "id":
            return self.contacts.get(int(value))
        if kind == "email":
            contact_id = self.by_email.get(value.lower())
        else:
            contact_id = self.by_phone.get(value if value.startswith("+") else "+" + value)
        return None if contact_id is None else self.contacts.get(contact_id)

    def find_user(self, ref: int | str) -> FakeUser | None:
        """A user by id or by email."""
        if isinstance(ref, int):
            return self.users.get(ref)
        wanted = ref.strip().lower()
        return next((user for user in self.users.values() if user.email.lower() == wanted), None)

    def contact_json(self, contact: FakeContact) -> JsonDict:
        """The full Contact shape."""
        assignee = self.users.get(contact.assignee_id) if contact.assignee_id is not None else None
        return {
            "id": contact.id,
            "firstName": contact.first_name,
            "lastName": contact.last_name,
            "phone": contact.phone,
            "email": contact.email,
            "language": contact.language,
            "profilePic": None,
            "countryCode": contact.country_code,
            "custom_fields": [dict(item) for item in contact.custom_fields],
            "status": contact.status,
            "tags": list(contact.tags),
            "lifecycle": contact.lifecycle,
            "isBlocked": False,
            "assignee": None if assignee is None else assignee.ref(),
            "created_at": contact.created_at,
        }

    def page_ids(self, ids: list[int], cursor: int | None, limit: int, keep: Callable[[int], bool]) -> list[int]:
        """Up to `limit + 1` matching ids after `cursor` (ids sorted ascending); a negative cursor reads backwards.

        The extra id tells the caller whether another page follows.
        """
        if cursor is not None and cursor < 0:
            stop = bisect_left(ids, -cursor)
            found: list[int] = []
            for position in range(stop - 1, -1, -1):
                if keep(ids[position]):
                    found.append(ids[position])
                    if len(found) > limit:
                        break
            return found[::-1]
        begin = 0 if cursor is None else bisect_right(ids, cursor)
        found = []
        for position in range(begin, len(ids)):
            if keep(ids[position]):
                found.append(ids[position])
                if len(found) > limit:
                    break
        return found

    def messages_of(self, contact: FakeContact) -> list[FakeMessage]:
        """The contact's messages, oldest first."""
        return self.messages.get(contact.id, [])

    def snapshot(self) -> JsonDict:
        """The whole visible state, for `/_fake/state` and determinism checks."""
        return {
            "seed": self.seed,
            "users": [user.to_json() for user in self.users.values()],
            "contacts": [
                {
                    "id": contact.id,
                    "name": f"{contact.first_name} {contact.last_name}",
                    "phone": contact.phone,
                    "email": contact.email,
                    "status": contact.status,
                    "assignee": contact.assignee_id,
                    "tags": list(contact.tags),
                    "created_at": contact.created_at,
                    "conversation": None if contact.conversation is None else self._conversation_json(contact),
                }
                for contact in self.contacts.values()
            ],
            "counters": dict(self.counters),
            "open": len(self.open_ids),
            "closed": len(self.closed_ids),
        }

    # -- changes ----------------------------------------------------------------------------------------

    def event_id(self) -> str:
        """A UUID4 from the event-id stream (reproducible only with an `event_seed`)."""
        return str(uuid.UUID(int=self._ids.getrandbits(128), version=4))

    def _emit(self, event_type: str, contact: FakeContact, conversation: JsonDict | None = None) -> None:
        self.counters["events"] += 1
        if self.on_event is None or (self.listening is not None and not self.listening()):
            return
        payload: JsonDict = {
            "event_type": event_type,
            "event_id": self.event_id(),
            "contact": self.contact_json(contact),
        }
        if conversation is not None:
            payload["conversation"] = conversation
        self.on_event(payload)

    def assign(self, contact: FakeContact, user: FakeUser | None) -> None:
        """Set or clear the assignee and announce `contact.assignee.updated` (even when it is unchanged)."""
        contact.assignee_id = None if user is None else user.id
        self.counters["unassignments" if user is None else "assignments"] += 1
        if user is not None and contact.conversation is not None and contact.conversation.is_open:
            contact.conversation.last_assignment_time = self.now()
        self._emit("contact.assignee.updated", contact)

    def open_conversation(
        self, contact: FakeContact, source: str, channel_id: int | None = None, first_message: str | None = None
    ) -> bool:
        """Open a new conversation, with the contact's `first_message` if they wrote in; False if one is open."""
        if contact.conversation is not None and contact.conversation.is_open:
            return False
        if contact.conversation is not None:
            contact.history.append(contact.conversation)
            del contact.history[:-_HISTORY_KEPT]
        contact.conversation = FakeConversation(self.now(), source, channel_id or contact.channel_ids[0])
        contact.status = "open"
        self.closed_ids.discard(contact.id)
        self.open_ids.add(contact.id)
        self.counters["opens"] += 1
        first = None
        if first_message is not None:
            first = self._add_message(contact, "incoming", first_message, self.now(), None)
        self._emit(
            "conversation.opened",
            contact,
            {
                "source": source,
                "conversationOpenedAt": contact.conversation.opened_time,
                "firstIncomingMessage": None if first is None else first.text,
                "firstIncomingMessageChannelId": None if first is None else first.channel_id,
            },
        )
        return True

    def close_conversation(
        self,
        contact: FakeContact,
        source: str,
        user: FakeUser | None = None,
        category: str | None = None,
        summary: str | None = None,
    ) -> bool:
        """Close the open conversation; False (and no event) if there is none."""
        conversation = contact.conversation
        if conversation is None or not conversation.is_open:
            return False
        conversation.closed_time = self.now()
        conversation.closed_by_source = source
        conversation.closed_by_id = None if user is None else user.id
        conversation.category = category or None
        conversation.summary = (summary or None) if category else None
        contact.status = "closed"
        self.open_ids.discard(contact.id)
        self.closed_ids.add(contact.id)
        self.counters["closes"] += 1
        self.counters[f"closes_by_{source}"] += 1
        self._emit("conversation.closed", contact, self._conversation_json(contact))
        return True

    def _conversation_json(self, contact: FakeContact) -> JsonDict:
        conversation = contact.conversation
        assert conversation is not None
        assignee = self.users.get(contact.assignee_id) if contact.assignee_id is not None else None
        data: JsonDict = {
            "openedTime": conversation.opened_time,
            "openedBySource": conversation.opened_by_source,
            "firstResponseTime": conversation.first_response_time,
            "incomingMessageCount": conversation.incoming,
            "outgoingMessageCount": conversation.outgoing,
            "assigneeTeam": None if assignee is None or assignee.team is None else assignee.team.name,
            "lastAssignmentTime": conversation.last_assignment_time,
        }
        if not conversation.is_open:
            closer = self.users.get(conversation.closed_by_id) if conversation.closed_by_id is not None else None
            data.update(
                category=conversation.category,
                summary=conversation.summary,
                closedTime=conversation.closed_time,
                closedBy=dict(_NULL_USER) if closer is None else closer.ref(),
                closedBySource=conversation.closed_by_source,
                resolutionTime=conversation.closed_time,
            )
        return data

    def add_tags(self, contact: FakeContact, tags: list[str]) -> None:
        """Add tags that are not there yet."""
        for tag in tags:
            if tag not in contact.tags:
                contact.tags.append(tag)

    def remove_tags(self, contact: FakeContact, tags: list[str]) -> None:
        """Remove the given tags; unknown ones are ignored."""
        contact.tags = [tag for tag in contact.tags if tag not in tags]

    def add_comment(self, contact: FakeContact, text: str) -> JsonDict:
        """Record an internal comment."""
        comment = {"contactId": contact.id, "text": text, "created_at": self.now()}
        self.comments.append(comment)
        self.counters["comments"] += 1
        return comment

    def create_contact(self, fields: JsonDict) -> FakeContact:
        """Add a contact from the create body (already validated)."""
        contact_id = (self.contact_ids[-1] if self.contact_ids else 0) + 1
        phone = fields.get("phone")
        contact = FakeContact(
            id=contact_id,
            first_name=str(fields.get("firstName") or ""),
            last_name=str(fields.get("lastName") or ""),
            phone=phone if isinstance(phone, str) and phone else None,
            email=fields.get("email") or None,
            language=str(fields.get("language") or "en"),
            country_code=str(fields.get("countryCode") or ""),
            created_at=self.now(),
            channel_ids=[1],
        )
        self._add_contact(contact)
        self.closed_ids.add(contact_id)
        contact.status = "closed"
        self.counters["contacts_created"] += 1
        return contact

    def add_message(self, contact: FakeContact, traffic: str, text: str, sender: JsonDict | None) -> FakeMessage:
        """Record a message now; outgoing ones count as the conversation's response."""
        return self._add_message(contact, traffic, text, self.now(), sender)

    def _add_message(
        self, contact: FakeContact, traffic: str, text: str, timestamp: int, sender: JsonDict | None
    ) -> FakeMessage:
        self._next_message_id += 1
        channel_id = contact.conversation.channel_id if contact.conversation else contact.channel_ids[0]
        message = FakeMessage(self._next_message_id, contact.id, channel_id, traffic, text, timestamp, sender)
        kept = self.messages.setdefault(contact.id, [])
        kept.append(message)
        del kept[:-_MESSAGES_KEPT]
        conversation = contact.conversation
        if conversation is not None and conversation.is_open:
            if traffic == "incoming":
                conversation.incoming += 1
            else:
                conversation.outgoing += 1
                if conversation.first_response_time is None:
                    conversation.first_response_time = timestamp
        self.counters["messages"] += 1
        return message

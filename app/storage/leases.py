"""Leases: who holds something (a command in flight, the runner role) and until when.

A holder is one open Store in one process: its owner string names the computer, the process id and a random
part, so two Stores in one process are two holders. A lease is taken back when its time runs out, or at once
when its holder was a process on this computer that no longer exists (a kill -9, a crash).

Another holder may ask for a lease (`request`): the holder sees the request at its next renewal, finishes
what it is doing and gives the lease to the asker (`hand_over`), so the role moves without a moment where
two hold it. When each renewal happened is kept beside the lease (a meta row), for "renewed 3 s ago".
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from app.storage import sql
from app.storage.models import LEASES, META

log = logging.getLogger("closeout.storage")

RUNNER = "runner"
_ASKED = "{}:asked"  # the lease row naming who asks for `name`, until when the request stands
_RENEWED = "lease_renewed:{}"  # the meta row with when `name` was last taken or renewed

_DROP = sql.Statement(lambda: delete(LEASES).where(LEASES.c.name == bindparam("name")))
_DROP_HELD = sql.Statement(
    lambda: delete(LEASES).where(LEASES.c.name == bindparam("name"), LEASES.c.owner == bindparam("owner"))
)
_HAND_OVER = sql.Statement(
    lambda: (
        update(LEASES)
        .where(LEASES.c.name == bindparam("name"), LEASES.c.owner == bindparam("holder"))
        .values(
            owner=bindparam("owner"),
            pid=bindparam("pid"),
            host=bindparam("host"),
            until=bindparam("until"),
            since=bindparam("since"),
        )
    )
)
_READ = sql.Statement(
    lambda: select(LEASES.c.owner, LEASES.c.pid, LEASES.c.host, LEASES.c.until, LEASES.c.since).where(
        LEASES.c.name == bindparam("name")
    )
)
_READ_META = sql.Statement(lambda: select(META.c.value).where(META.c.key == bindparam("key")))


@dataclass(frozen=True, slots=True)
class Holder:
    """A process (and one Store in it) that can hold leases."""

    owner: str
    pid: int
    host: str

    @classmethod
    def this_process(cls) -> Holder:
        """A new holder for this process."""
        host = socket.gethostname()
        pid = os.getpid()
        return cls(f"{host}/{pid}/{secrets.token_hex(4)}", pid, host)

    @classmethod
    def parse(cls, owner: str) -> Holder | None:
        """The holder an owner string names, or None if it is not one of ours."""
        host, _, rest = owner.partition("/")
        pid, _, _token = rest.partition("/")
        return cls(owner, int(pid), host) if pid.isdigit() else None

    def is_gone(self) -> bool:
        """True when the holder was a process on this computer that has ended."""
        if self.host != socket.gethostname() or self.pid == os.getpid():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # alive, another user's
            return False
        return False


@dataclass(frozen=True, slots=True)
class Lease:
    """A named lease as stored: its holder and until when it holds."""

    name: str
    holder: Holder
    until: float
    since: float
    renewed: float = 0.0
    asked_by: Holder | None = None  # another holder that asks for this lease (seen only by its holder)


class Leases:
    """Named leases, one holder each, taken and renewed in one write transaction."""

    def __init__(self, sessions: sessionmaker[Session], holder: Holder) -> None:
        """Take leases as `holder`."""
        self._sessions = sessions
        self.holder = holder

    def acquire(self, name: str, seconds: float, now: float | None = None) -> Lease:
        """Take or renew `name` if it is free, expired, ours, or its holder is gone; returns who holds it now.

        A lease we hold comes back with `asked_by` set while another live holder asks for it.
        """
        with self._sessions.begin() as session:
            now = _clock(session) if now is None else now
            current = _read(session, name)
            if current is not None and current.holder.owner != self.holder.owner:
                if current.until > now and not current.holder.is_gone():
                    return current
                log.info("taking the %s lease from %s (expired or gone)", name, current.holder.owner)
            since = current.since if current is not None and current.holder.owner == self.holder.owner else now
            _write(session, name, self.holder, now + seconds, since, now)
            asked = _read(session, _ASKED.format(name))
            live = asked is not None and asked.until > now and not asked.holder.is_gone()
            if asked is not None and asked.holder.owner == self.holder.owner:  # we asked, and hold it now
                _DROP.run(session, {"name": _ASKED.format(name)})
                live = False
            asker = asked.holder if asked is not None and live else None
            return Lease(name, self.holder, now + seconds, since, now, asker)

    def request(self, name: str, seconds: float, now: float | None = None) -> None:
        """Ask the holder of `name` to hand it over to us; the request stands for `seconds`."""
        with self._sessions.begin() as session:
            now = _clock(session) if now is None else now
            _write(session, _ASKED.format(name), self.holder, now + seconds, now, None)

    def hand_over(self, name: str, to: Holder, seconds: float, now: float | None = None) -> bool:
        """Give `name`, which we hold, to `to` for `seconds`; False (and nothing changed) if it is not ours."""
        with self._sessions.begin() as session:
            now = _clock(session) if now is None else now
            moved = _HAND_OVER.run(
                session,
                {
                    "owner": to.owner,
                    "pid": to.pid,
                    "host": to.host,
                    "until": now + seconds,
                    "since": now,
                    "name": name,
                    "holder": self.holder.owner,
                },
            ).rowcount
            if not moved:
                return False
            _renewed(session, name, now)
            _DROP_HELD.run(session, {"name": _ASKED.format(name), "owner": to.owner})
        log.info("handed the %s lease to %s", name, to.owner)
        return True

    def release(self, name: str) -> None:
        """Give up `name` if we hold it."""
        with self._sessions.begin() as session:
            for row in (name, _ASKED.format(name)):
                _DROP_HELD.run(session, {"name": row, "owner": self.holder.owner})

    def asked(self, name: str) -> bool:
        """True while our request for `name` stands (it goes when the lease is handed to us or it runs out)."""
        with self._sessions() as session:
            asked = _read(session, _ASKED.format(name))
            now = _clock(session)
        return asked is not None and asked.holder.owner == self.holder.owner and asked.until > now

    def get(self, name: str) -> Lease | None:
        """Who holds `name` now (and when they last renewed it), or None when nobody holds a live lease on it."""
        with self._sessions() as session:
            current = _read(session, name)
            now = _clock(session)
        if current is None or current.until <= now or current.holder.is_gone():
            return None
        return current


def _clock(session: Session) -> float:
    """Now, by the database server's clock when computers share it (PostgreSQL), else by this computer's.

    Leases are written and judged by whoever reads them: computers whose clocks disagree by seconds would
    otherwise see a live lease as run out, and two of them would send.
    """
    if session.get_bind().dialect.name == "postgresql":
        return float(session.execute(text("SELECT extract(epoch FROM clock_timestamp())")).scalar_one())
    return time.time()


def _read(session: Session, name: str) -> Lease | None:
    row = _READ.run(session, {"name": name}).first()
    if row is None:
        return None
    owner, pid, host, until, since = tuple(row)
    renewed = _READ_META.run(session, {"key": _RENEWED.format(name)}).scalar()
    return Lease(name, Holder(owner, int(pid), host), float(until), float(since), float(renewed or since))


def _write(session: Session, name: str, holder: Holder, until: float, since: float, renewed: float | None) -> None:
    row = {"name": name, "owner": holder.owner, "pid": holder.pid, "host": holder.host, "until": until, "since": since}
    sql.upsert(session, LEASES, [row], "name")
    if renewed is not None:
        _renewed(session, name, renewed)


def _renewed(session: Session, name: str, at: float) -> None:
    sql.upsert(session, META, [{"key": _RENEWED.format(name), "value": repr(at)}], "key")

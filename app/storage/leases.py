"""Leases: who holds something (a command in flight, the runner role) and until when.

A holder is one open Store in one process: its owner string names the computer, the process id and a random
part, so two Stores in one process are two holders. A lease is taken back when its time runs out, or at once
when its holder was a process on this computer that no longer exists (a kill -9, a crash).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from app.storage import sql
from app.storage.models import LEASES

log = logging.getLogger("closeout.storage")

RUNNER = "runner"


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


class Leases:
    """Named leases, one holder each, taken and renewed in one write transaction."""

    def __init__(self, sessions: sessionmaker[Session], holder: Holder) -> None:
        """Take leases as `holder`."""
        self._sessions = sessions
        self.holder = holder

    def acquire(self, name: str, seconds: float, now: float | None = None) -> Lease:
        """Take or renew `name` if it is free, expired, ours, or its holder is gone; returns who holds it now."""
        now = time.time() if now is None else now
        with self._sessions.begin() as session:
            current = _read(session, name)
            if current is not None and current.holder.owner != self.holder.owner:
                if current.until > now and not current.holder.is_gone():
                    return current
                log.info("taking the %s lease from %s (expired or gone)", name, current.holder.owner)
            since = current.since if current is not None and current.holder.owner == self.holder.owner else now
            row = {
                "name": name,
                "owner": self.holder.owner,
                "pid": self.holder.pid,
                "host": self.holder.host,
                "until": now + seconds,
                "since": since,
            }
            sql.upsert(session, LEASES.name, [row], "name")
            return Lease(name, self.holder, now + seconds, since)

    def release(self, name: str) -> None:
        """Give up `name` if we hold it."""
        with self._sessions.begin() as session:
            sql.execute(session, f"DELETE FROM {LEASES.name} WHERE name = ? AND owner = ?", (name, self.holder.owner))

    def get(self, name: str) -> Lease | None:
        """Who holds `name` now, or None when nobody holds a live lease on it."""
        with self._sessions() as session:
            current = _read(session, name)
        if current is None or current.until <= time.time() or current.holder.is_gone():
            return None
        return current


def _read(session: Session, name: str) -> Lease | None:
    statement = f"SELECT owner, pid, host, until, since FROM {LEASES.name} WHERE name = ?"
    row = sql.execute(session, statement, (name,)).first()
    if row is None:
        return None
    owner, pid, host, until, since = tuple(row)
    return Lease(name, Holder(owner, int(pid), host), float(until), float(since))

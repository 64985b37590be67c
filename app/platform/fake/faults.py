"""Fault injection for the fake's `/v2` routes: by probability, or scripted as a queue of the next faults.

A spec string reads like the CLI option: `"429=0.05,500=0.02,timeout=0.01"`. A script is a list of fault
kinds, taken one per request before any probability is drawn; `"ok"` in a script lets one request through.
The plan is changed from tests and from `POST /_fake/faults` while the fake serves, possibly from another
thread, so it holds a lock (uncontended, so it costs nothing measurable per request).
"""

from __future__ import annotations

import random
import threading
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from typing import Any

FAULT_KINDS = ("429", "449", "500", "502", "503", "timeout", "reset", "garbage")
PASS = "ok"


def parse_spec(spec: str) -> dict[str, float]:
    """Probabilities from `"kind=p,kind=p"`; ValueError naming the bad part."""
    probabilities: dict[str, float] = {}
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        kind, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"fault {part!r} needs a probability, as in 500=0.02")
        try:
            probabilities[kind.strip()] = float(value)
        except ValueError:
            raise ValueError(f"fault {part!r}: {value.strip()!r} is not a probability") from None
    return _checked(probabilities)


def _checked(probabilities: Mapping[str, object]) -> dict[str, float]:
    checked: dict[str, float] = {}
    for kind, value in probabilities.items():
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; known: {', '.join(FAULT_KINDS)}")
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise ValueError(f"fault {kind}: the probability must be between 0 and 1")
        if value:
            checked[kind] = float(value)
    if sum(checked.values()) > 1:
        raise ValueError("the fault probabilities add up to more than 1")
    return checked


class FaultPlan:
    """Which fault, if any, the next `/v2` request gets."""

    def __init__(
        self, spec: str | Mapping[str, float] | None = None, *, seed: int = 0, stall_seconds: float = 35.0
    ) -> None:
        """Start from a spec (string or mapping); `stall_seconds` is how long a "timeout" fault holds a request."""
        self._lock = threading.Lock()
        self._rng = random.Random(f"{seed}-faults")
        self._probabilities: dict[str, float] = {}
        self._script: deque[str] = deque()
        self.stall_seconds = stall_seconds
        self.retry_after = 1
        self.injected: Counter[str] = Counter()
        if spec:
            self.set_probabilities(spec)

    def set_probabilities(self, spec: str | Mapping[str, float]) -> None:
        """Replace the probabilities."""
        checked = parse_spec(spec) if isinstance(spec, str) else _checked(spec)
        with self._lock:
            self._probabilities = checked

    def script(self, kinds: Iterable[str], *, append: bool = False) -> None:
        """Queue faults for the next requests, one each; replaces the queue unless `append`."""
        queued = list(kinds)
        for kind in queued:
            if kind not in FAULT_KINDS and kind != PASS:
                raise ValueError(f"unknown fault {kind!r}; known: {', '.join(FAULT_KINDS)} (or {PASS!r})")
        with self._lock:
            if not append:
                self._script.clear()
            self._script.extend(queued)

    def clear(self) -> None:
        """No faults at all."""
        with self._lock:
            self._probabilities = {}
            self._script.clear()

    def configure(self, body: Mapping[str, Any]) -> None:
        """Apply a `POST /_fake/faults` body; on a ValueError (which says what is wrong) nothing changes.

        The body may hold any of `clear`, `spec`, `probabilities`, `script`, `append`, `stall_seconds` and
        `retry_after`; `clear` applies first, so `{"clear": true, "script": [...]}` starts afresh.
        """
        probabilities: dict[str, float] | None = None
        if "spec" in body:
            if not isinstance(body["spec"], str):
                raise ValueError("spec must be a string like 429=0.05,500=0.02")
            probabilities = parse_spec(body["spec"])
        if "probabilities" in body:
            if not isinstance(body["probabilities"], Mapping):
                raise ValueError("probabilities must be an object of fault kind to probability")
            probabilities = _checked(body["probabilities"])
        script = body.get("script")
        if script is not None and (not isinstance(script, list) or not all(isinstance(k, str) for k in script)):
            raise ValueError("script must be a list of fault kinds")
        stall = body.get("stall_seconds")
        if stall is not None and (isinstance(stall, bool) or not isinstance(stall, int | float) or stall < 0):
            raise ValueError("stall_seconds must be a non-negative number")
        retry_after = body.get("retry_after")
        if retry_after is not None and (isinstance(retry_after, bool) or not isinstance(retry_after, int)):
            raise ValueError("retry_after must be an integer number of seconds")
        if body.get("clear"):
            self.clear()
        if probabilities is not None:
            self.set_probabilities(probabilities)
        if script is not None:
            self.script(script, append=bool(body.get("append")))
        if stall is not None:
            self.stall_seconds = float(stall)
        if retry_after is not None:
            self.retry_after = max(0, retry_after)

    def next_fault(self) -> str | None:
        """The fault for this request, or None."""
        if not self._script and not self._probabilities:
            return None
        with self._lock:
            if self._script:
                kind = self._script.popleft()
                if kind == PASS:
                    return None
            else:
                draw = self._rng.random()
                kind = ""
                for candidate, probability in self._probabilities.items():
                    draw -= probability
                    if draw < 0:
                        kind = candidate
                        break
                if not kind:
                    return None
            self.injected[kind] += 1
            return kind

    def to_json(self) -> dict[str, Any]:
        """The plan as `GET /_fake/faults` shows it."""
        with self._lock:
            return {
                "probabilities": dict(self._probabilities),
                "script": list(self._script),
                "stall_seconds": self.stall_seconds,
                "retry_after": self.retry_after,
                "injected": dict(self.injected),
            }

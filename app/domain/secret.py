"""A wrapper that keeps the API token out of reprs, logs and exception text."""

from __future__ import annotations


class Secret:
    """Holds a secret string; only `reveal()` gives it back.

    `repr`, `str` and formatting show a mask, so a token passed around in an object never leaks into a
    log line or a traceback by accident.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        """Wrap `value`, trimming the whitespace and the `Bearer ` prefix people paste by mistake."""
        value = value.strip()
        if value.lower().startswith("bearer "):
            value = value[len("bearer ") :].strip()
        self._value = value

    def reveal(self) -> str:
        """The secret itself, for the one place that must send it."""
        return self._value

    @property
    def hint(self) -> str:
        """A mask that still lets a person tell two secrets apart, never the secret itself.

        The last four characters of a long secret; a short one has too few to spare, so only its length.
        """
        if len(self._value) > 8:
            return "…" + self._value[-4:]
        return f"({len(self._value)} characters, none shown)"

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return f"Secret({self.hint!r})"

    __str__ = __repr__

"""The errors people see: each says what went wrong and what to do next, and never holds a secret."""

from __future__ import annotations


class CloseoutError(Exception):
    """Base of every error Closeout shows to people.

    `message` says what went wrong; `action` says what to do about it. Both are safe to log and show:
    they must never contain the API token.
    """

    default_action = ""

    def __init__(self, message: str, action: str | None = None) -> None:
        """Keep the words for the UI; `action` falls back to the class's usual advice."""
        super().__init__(message)
        self.message = message
        self.action = self.default_action if action is None else action

    def __str__(self) -> str:
        """Both halves, so a log line or a CLI error reads as a whole sentence."""
        return f"{self.message} {self.action}".strip()


class StorageError(CloseoutError):
    """The local database cannot be used as it is."""


class DatabaseLocked(StorageError):
    """Another program holds the database longer than the retries allow."""

    default_action = "Close any other Closeout window or tool using this database, then try again."


class DatabaseCorrupt(StorageError):
    """The file is not a SQLite database Closeout can read. It is left untouched."""

    default_action = "Move it aside and start with a fresh database; the old file is kept for recovery."

    def __init__(self, path: str, detail: str) -> None:
        """Name the file, so the person can find it."""
        super().__init__(f"The database at {path} cannot be read ({detail}).")
        self.path = path


class DatabaseReadOnly(StorageError):
    """The database or its folder cannot be written."""

    default_action = "Give your user write access to the folder, or choose another database location in Settings."


class DiskFull(StorageError):
    """The disk holding the database has no room left."""

    default_action = "Free some disk space; nothing was lost and Closeout will carry on once there is room."


class SchemaTooNew(StorageError):
    """The database was written by a newer Closeout."""

    default_action = "Update Closeout, or choose another database location in Settings."


class PlatformError(CloseoutError):
    """The platform refused or could not answer a request.

    `status` is the HTTP status, 0 when no response arrived.
    """

    retryable = False

    def __init__(self, message: str, action: str | None = None, *, status: int = 0) -> None:
        """Keep the HTTP status for the retry logic and for the words."""
        super().__init__(message, action)
        self.status = status


class AuthRejected(PlatformError):
    """The API token was refused (401)."""

    default_action = "Paste a valid token in Settings (respond.io: Settings > Integrations > Developer API)."


class NotFound(PlatformError):
    """The contact, user or other record does not exist on the platform (404).

    `subject` names what is missing (`contact`, `user`...), as the platform's own message says it.
    """

    def __init__(self, message: str, action: str | None = None, *, status: int = 404, subject: str = "contact") -> None:
        """Keep what was not found, so the words fit the cause."""
        super().__init__(message, action, status=status)
        self.subject = subject


class ValidationFailed(PlatformError):
    """The platform rejected the request's content (400)."""


class Conflict(PlatformError):
    """The platform reported a conflict (409)."""


class RateLimited(PlatformError):
    """The platform's rate limit was hit (429) or it queued the request (449)."""

    retryable = True
    default_action = "Closeout slows down and retries by itself."

    def __init__(self, message: str, *, status: int = 429, retry_after: float | None = None) -> None:
        """Keep `Retry-After`, in seconds, when the platform sent one."""
        super().__init__(message, status=status)
        self.retry_after = retry_after


class Queued(RateLimited):
    """The platform queued the request (449: "try again in a few minutes"); `retry_after` is minutes long."""

    default_action = "Closeout tries this one again in a few minutes and carries on with the rest."

    def __init__(self, message: str, *, retry_after: float) -> None:
        """`retry_after` is already jittered by the client."""
        super().__init__(message, status=449, retry_after=retry_after)


class PlatformUnavailable(PlatformError):
    """The platform answered with a server error or a body that is not the JSON it documents."""

    retryable = True
    default_action = "Closeout retries by itself; if it lasts, check respond.io's status page."


class Offline(PlatformError):
    """No answer: the network is down, the host unreachable, or the request timed out."""

    retryable = True
    default_action = "Closeout keeps queueing and resumes when the connection is back."


class WebhookRejected(CloseoutError):
    """An incoming webhook was refused; nothing from it was stored.

    `status` is what the receiver answers: 401 for a bad signature, 400 for a malformed body.
    """

    def __init__(self, message: str, *, status: int) -> None:
        """Keep the status the receiver should answer with."""
        super().__init__(message)
        self.status = status


class UnstorableEvent(WebhookRejected):
    """A platform event holding a value the database cannot keep (an id past 64 bits, broken text); refused alone."""

    def __init__(self, message: str) -> None:
        """Refused with 422: the body was well-formed, one of its values is not."""
        super().__init__(message, status=422)


class WorkflowError(CloseoutError):
    """A workflow cannot be saved, published, imported or run as asked."""


class PublishBlocked(WorkflowError):
    """Required fields are still empty; `missing` lists them in words."""

    default_action = "Fill in the fields marked as needing input, then publish again."

    def __init__(self, name: str, missing: tuple[str, ...]) -> None:
        """List what is missing, so the editor can mark it."""
        super().__init__(f'"{name}" cannot be published yet: ' + "; ".join(missing) + ".")
        self.missing = missing


class WorkflowFileError(WorkflowError):
    """An exported workflow file cannot be read."""

    default_action = "Choose a file exported by Closeout."


class ExportCancelled(CloseoutError):
    """The lead stopped an export before it finished; the partial file has been removed."""


class NotFoundLocally(CloseoutError):
    """A workflow, run or record asked for by id is not in the local database."""


class ConfigError(CloseoutError):
    """A setting has a value Closeout cannot use."""

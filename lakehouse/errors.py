"""The project's exception hierarchy.

Callers decide what to do by class, never by message: a ``RetryableError`` is
retried with backoff and its event stays unacknowledged; a ``PermanentError``
sends the file to quarantine and the dead-letter topic.
"""

from __future__ import annotations

from lakehouse import reasons


class LakehouseError(Exception):
    """Base class of every error this project raises on purpose."""


class ConfigurationError(LakehouseError):
    """A setting is missing or invalid; the message names the variable to fix."""


class RetryableError(LakehouseError):
    """A transient failure (storage, broker or catalog unreachable): retry later."""


class PermanentError(LakehouseError):
    """The input itself is bad; retrying cannot help. The file goes to quarantine.

    ``reason`` is required and must be a name of :mod:`lakehouse.reasons`
    (``ValueError`` otherwise): quarantine reports, dead letters and metrics
    carry it, and scripts match on it.
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reasons.check(reason, reasons.PERMANENT_REASONS)

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only arguments do not survive the default exception pickling
        # (process pools, Spark): rebuild from the instance's own state instead.
        return _rebuild, (type(self), self.args, self.__dict__)


def _rebuild(cls: type[PermanentError], args: tuple[object, ...], state: dict[str, object]) -> PermanentError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class ServiceError(LakehouseError):
    """A native service could not be built, started, or did not become healthy."""

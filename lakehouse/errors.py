"""The project's exception hierarchy.

Callers decide what to do by class, never by message: a ``RetryableError`` is
retried with backoff and its event stays unacknowledged; a ``PermanentError``
sends the file to quarantine and the dead-letter topic.
"""

from __future__ import annotations


class LakehouseError(Exception):
    """Base class of every error this project raises on purpose."""


class ConfigurationError(LakehouseError):
    """A setting is missing or invalid; the message names the variable to fix."""


class RetryableError(LakehouseError):
    """A transient failure (storage, broker or catalog unreachable): retry later."""


class PermanentError(LakehouseError):
    """The input itself is bad; retrying cannot help. The file goes to quarantine."""

    def __init__(self, message: str, *, reason: str = "invalid_input") -> None:
        super().__init__(message)
        self.reason = reason


class ServiceError(LakehouseError):
    """A native service could not be built, started, or did not become healthy."""

"""One error hierarchy for Tifa. Each class carries the HTTP status the service answers
with; core code raises these and never anything HTTP-specific."""

from __future__ import annotations

from typing import Any


class TifaError(Exception):
    """Base of every error Tifa reports to a user."""

    status = 500
    title = "Internal error"
    type = "about:blank"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class QueryError(TifaError):
    """The query cannot be parsed or breaks a limit; `position` points into the query."""

    status = 400
    title = "Invalid query"

    def __init__(
        self,
        detail: str,
        *,
        position: int | None = None,
        expected: str | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        if errors is None and position is not None:
            errors = [{"position": position, "expected": expected, "message": detail}]
        super().__init__(detail, errors=errors)
        self.position = position
        self.expected = expected


class InvalidInput(TifaError):
    """A parameter or a record is malformed."""

    status = 422
    title = "Invalid input"


class NotFound(TifaError):
    status = 404
    title = "Not found"


class Conflict(TifaError):
    status = 409
    title = "Conflict"


class TooLarge(TifaError):
    status = 413
    title = "Request too large"


class Unauthorized(TifaError):
    status = 401
    title = "Authentication required"


class Forbidden(TifaError):
    status = 403
    title = "Forbidden"


class Timeout(TifaError):
    status = 504
    title = "Query took too long"


class EngineUnavailable(TifaError):
    """The search engine cannot be reached (or the index is not there yet)."""

    status = 503
    title = "Search engine unavailable"


class EngineFailure(TifaError):
    """The search engine answered with an error."""

    status = 502
    title = "Search engine failure"

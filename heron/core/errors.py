"""Every error Heron raises on purpose.

Each class carries the HTTP status it maps to, so the API layer has one handler that
walks the MRO instead of a table of special cases::

    HeronError                    500
     ├── BadRequest               400
     │    ├── ParseError          400  (line, column, expected, got)
     │    └── UnsupportedMedia    400
     ├── Unauthorized             401
     ├── Forbidden                403
     │    └── Blocked             403  (an address banned after repeated failures)
     ├── NotFound                 404
     ├── MethodNotAllowed         405
     ├── PayloadTooLarge          413
     ├── Unprocessable            422
     │    ├── DatabaseNotFound    422
     │    ├── TypeConflict        422
     │    ├── SqlRejected         422
     │    └── QueryFailed         422
     ├── Overloaded               429  (retry_after seconds)
     │    └── RateLimited         429  (too many logins from one address or for one user)
     └── StoreUnavailable         503  (acknowledged writes cannot be applied now; retry_after)
"""

from __future__ import annotations


class HeronError(Exception):
    """Base class: a message meant for the client and the status that goes with it."""

    status: int = 500
    code: str = "internal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(HeronError):
    status = 400
    code = "bad_request"


class ParseError(BadRequest):
    """A payload that does not follow its wire format; line and column are 1-based."""

    code = "parse_error"

    def __init__(
        self,
        message: str,
        *,
        line: int = 0,
        column: int = 0,
        expected: str = "",
        got: str = "",
    ) -> None:
        self.line = line
        self.column = column
        self.expected = expected
        self.got = got
        self.reason = message
        where = (f"line {line}, column {column}: " if column else f"line {line}: ") if line else ""
        detail = f" (expected {expected}, got {got})" if expected else ""
        super().__init__(f"{where}{message}{detail}")


class UnsupportedMedia(BadRequest):
    code = "unsupported_media"


class Unauthorized(HeronError):
    status = 401
    code = "unauthorized"


class Forbidden(HeronError):
    status = 403
    code = "forbidden"


class Blocked(Forbidden):
    """A request from an address the WAF banned after repeated failed credentials."""

    code = "blocked"


class NotFound(HeronError):
    status = 404
    code = "not_found"


class MethodNotAllowed(HeronError):
    """A route that exists, asked with a method it does not take."""

    status = 405
    code = "method_not_allowed"


class PayloadTooLarge(HeronError):
    status = 413
    code = "payload_too_large"


class Unprocessable(HeronError):
    status = 422
    code = "unprocessable"


class DatabaseNotFound(Unprocessable):
    code = "database_not_found"

    def __init__(self, tenant: str, database: str) -> None:
        self.tenant = tenant
        self.database = database
        super().__init__(
            f"database '{database}' does not exist in tenant '{tenant}'; create it with "
            f"POST /api/v1/sql?tenant={tenant} and the body: CREATE DATABASE {database}"
        )


class DatabaseExists(Unprocessable):
    code = "database_exists"


class TypeConflict(Unprocessable):
    """A value whose type differs from the type its column already has."""

    code = "type_conflict"

    def __init__(self, *, table: str, column: str, existing: str, got: str, line: int = 0) -> None:
        self.table = table
        self.column = column
        self.existing = existing
        self.got = got
        self.line = line
        where = f"line {line}: " if line else ""
        super().__init__(
            f"{where}type conflict in table '{table}', column '{column}': the column is {existing}, the value is {got}"
        )


class SqlRejected(Unprocessable):
    """SQL that the sandbox refuses to run (files, settings, other databases, writes)."""

    code = "sql_rejected"


class QueryFailed(Unprocessable):
    """SQL that ran and failed: unknown column, bad cast, time limit, result too large."""

    code = "query_failed"


class Overloaded(HeronError):
    status = 429
    code = "overloaded"

    def __init__(self, message: str, *, retry_after_seconds: int = 1) -> None:
        self.retry_after_seconds = retry_after_seconds
        super().__init__(message)


class RateLimited(Overloaded):
    """Too many login attempts in a short time; ``retry_after_seconds`` says when to try again."""

    code = "rate_limited"


class StoreUnavailable(HeronError):
    """The store cannot apply acknowledged writes right now (a full disk, say): they are
    safe in the write-ahead log and retried; reads would miss them, so they wait too."""

    status = 503
    code = "store_unavailable"

    def __init__(self, message: str, *, retry_after_seconds: int = 1) -> None:
        self.retry_after_seconds = retry_after_seconds
        super().__init__(message)

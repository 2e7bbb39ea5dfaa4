"""The typed errors of the Odoo client, and how Odoo's own error names map onto them.

Every protocol reports failures differently (JSON-RPC by `error.data.name`, XML-RPC by fault
code, JSON-2 by HTTP status and body `name`); callers only ever see the classes below.
"""

from __future__ import annotations

import re

__all__ = [
    "OdooAccessError",
    "OdooAuthenticationError",
    "OdooCircuitOpenError",
    "OdooError",
    "OdooMissingError",
    "OdooServerError",
    "OdooUnavailableError",
    "OdooUnsupportedVersionError",
    "OdooUserError",
    "error_class_for_name",
    "error_class_for_status",
]


class OdooError(Exception):
    """Base of every error raised by the Odoo client.

    `odoo_name` is the server-side exception name when Odoo sent one (for example
    "odoo.exceptions.AccessError"), `model` and `method` the call that failed.
    """

    def __init__(
        self,
        message: str,
        *,
        odoo_name: str | None = None,
        model: str | None = None,
        method: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.odoo_name = odoo_name
        self.model = model
        self.method = method
        self.status = status

    def __str__(self) -> str:
        where = f"{self.model}.{self.method}" if self.model else self.method
        prefix = " ".join(
            p for p in (f"[{self.odoo_name}]" if self.odoo_name else None, where) if p
        )
        return f"{prefix}: {self.message}" if prefix else self.message


class OdooAuthenticationError(OdooError):
    """Bad credentials: wrong login, password or API key (AccessDenied, fault 3, HTTP 401)."""


class OdooAccessError(OdooError):
    """The user may not do this (AccessError, private method, fault 4, HTTP 403)."""


class OdooMissingError(OdooError):
    """Unknown model or method, or a record that no longer exists (MissingError, HTTP 404)."""


class OdooUserError(OdooError):
    """Odoo refused the operation for a business reason (UserError/ValidationError, HTTP 422)."""


class OdooServerError(OdooError):
    """Any other exception raised inside Odoo (fault 1, HTTP 500 with an Odoo error body)."""


class OdooUnsupportedVersionError(OdooError):
    """The server runs a version of Odoo this client does not support (only 16 to 19)."""


class OdooUnavailableError(OdooError):
    """Odoo could not be reached or was overloaded; raised once retries are exhausted.

    `request_sent` is False only when the request certainly never reached the server (a
    connect error, or a call refused by the open circuit breaker), which is what makes a
    retry of a non-idempotent call safe. `retry_after` is the server's Retry-After in seconds.
    """

    def __init__(
        self,
        message: str,
        *,
        odoo_name: str | None = None,
        model: str | None = None,
        method: str | None = None,
        status: int | None = None,
        request_sent: bool = True,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, odoo_name=odoo_name, model=model, method=method, status=status)
        self.request_sent = request_sent
        self.retry_after = retry_after


class OdooCircuitOpenError(OdooUnavailableError):
    """The circuit breaker is open: the call failed at once without sending a request."""

    def __init__(self, message: str, *, model: str | None = None, method: str | None = None):
        super().__init__(message, model=model, method=method, request_sent=False)


# Server-side exception names as Odoo reports them (JSON-RPC `data.name`, JSON-2 body `name`).
_NAME_TO_CLASS: dict[str, type[OdooError]] = {
    "odoo.exceptions.AccessDenied": OdooAuthenticationError,
    "odoo.http.SessionExpiredException": OdooAuthenticationError,
    "werkzeug.exceptions.Unauthorized": OdooAuthenticationError,
    "odoo.exceptions.AccessError": OdooAccessError,
    "werkzeug.exceptions.Forbidden": OdooAccessError,
    "odoo.exceptions.MissingError": OdooMissingError,
    "werkzeug.exceptions.NotFound": OdooMissingError,
    "odoo.exceptions.UserError": OdooUserError,
    "odoo.exceptions.ValidationError": OdooUserError,
    "odoo.exceptions.RedirectWarning": OdooUserError,
    # Concurrency failures that survived Odoo's own retries: the transaction was rolled back,
    # so trying again later is the right answer (JSON-2 reports them as HTTP 409).
    "odoo.exceptions.ConcurrencyError": OdooUnavailableError,
    "odoo.exceptions.LockError": OdooUnavailableError,
    "psycopg2.errors.SerializationFailure": OdooUnavailableError,
    "psycopg2.errors.LockNotAvailable": OdooUnavailableError,
    "psycopg2.errors.DeadlockDetected": OdooUnavailableError,
    "psycopg2.extensions.TransactionRollbackError": OdooUnavailableError,
}

_STATUS_TO_CLASS: dict[int, type[OdooError]] = {
    401: OdooAuthenticationError,
    403: OdooAccessError,
    404: OdooMissingError,
    409: OdooUnavailableError,
    422: OdooUserError,
    429: OdooUnavailableError,
    500: OdooServerError,
    502: OdooUnavailableError,
    503: OdooUnavailableError,
    504: OdooUnavailableError,
}

# Unknown models and methods do not have an exception of their own on the RPC endpoints: Odoo
# raises UserError("Object x doesn't exist") and AttributeError (16: "type object 'x' has no
# attribute 'm'", 17: "The method 'm' does not exist on the model 'x'", 18+: "The method 'x.m'
# does not exist"); and XML-RPC reports a MissingError as a plain fault 2. Only the text tells.
_MISSING_TEXT = re.compile(
    r"Object \S+ doesn't exist|The method '\S+' does not exist|has no attribute"
    r"|Record does not exist or has been deleted",
)


def error_class_for_name(name: str | None, message: str = "") -> type[OdooError] | None:
    """The error class for an Odoo exception name, or None when the name is not a known one."""
    if not name:
        return None
    if name in ("builtins.AttributeError", "odoo.exceptions.UserError") and _MISSING_TEXT.search(
        message
    ):
        return OdooMissingError
    return _NAME_TO_CLASS.get(name)


def error_class_for_status(status: int) -> type[OdooError]:
    """The error class for an HTTP error status (any 5xx not listed is a server error)."""
    if status in _STATUS_TO_CLASS:
        return _STATUS_TO_CLASS[status]
    return OdooServerError if status >= 500 else OdooError

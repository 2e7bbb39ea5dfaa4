"""Exceptions the emulated Odoo raises, named as Odoo names them on the wire.

Odoo's clients key on the exception's dotted name (``data.name`` in JSON-RPC errors, the fault
code family in XML-RPC, the HTTP status in JSON-2), so every error carries the name Odoo's own
class has. Plain Python errors that Odoo lets escape (``ValueError`` for a bad domain,
``TypeError`` for arguments that do not bind, ``AttributeError`` for an unknown method) are raised
as the builtins they are and named ``builtins.<Class>``.
"""

from __future__ import annotations


class OdooError(Exception):
    """Base of the ``odoo.exceptions`` family."""

    odoo_name = "odoo.exceptions.UserError"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UserError(OdooError):
    """A business rule refused the operation (XML-RPC fault 2, JSON-2 422)."""

    odoo_name = "odoo.exceptions.UserError"


class ValidationError(UserError):
    """A constraint failed (XML-RPC fault 2, JSON-2 422)."""

    odoo_name = "odoo.exceptions.ValidationError"


class MissingError(UserError):
    """The records do not exist or were deleted (XML-RPC fault 2, JSON-2 404)."""

    odoo_name = "odoo.exceptions.MissingError"


class AccessError(UserError):
    """The user may not do this, or the method is private (XML-RPC fault 4, JSON-2 403)."""

    odoo_name = "odoo.exceptions.AccessError"


class RedirectWarning(UserError):
    """A warning with a redirection (XML-RPC fault 2)."""

    odoo_name = "odoo.exceptions.RedirectWarning"


class AccessDenied(OdooError):
    """Bad login, uid, password or API key (XML-RPC fault 3, JSON-2 403).

    Like Odoo's, it is not a ``UserError``.
    """

    odoo_name = "odoo.exceptions.AccessDenied"

    def __init__(self, message: str = "Access Denied") -> None:
        super().__init__(message)


class LockError(OdooError):
    """A row lock could not be taken (JSON-2 409); raised only by fault injection."""

    odoo_name = "odoo.exceptions.LockError"


class NotFound(Exception):
    """``werkzeug.exceptions.NotFound``: JSON-2's answer for an unknown model or method."""

    odoo_name = "werkzeug.exceptions.NotFound"
    code = 404


class Unauthorized(Exception):
    """``werkzeug.exceptions.Unauthorized``: JSON-2 without a valid bearer API key."""

    odoo_name = "werkzeug.exceptions.Unauthorized"
    code = 401


class UnprocessableEntity(Exception):
    """``werkzeug.exceptions.UnprocessableEntity``: JSON-2 arguments that do not bind."""

    odoo_name = "werkzeug.exceptions.UnprocessableEntity"
    code = 422


def exception_name(exc: BaseException) -> str:
    """The dotted name Odoo puts in ``data.name`` for this exception."""
    name = getattr(type(exc), "odoo_name", None)
    if name:
        return name
    module = type(exc).__module__
    return f"{module}.{type(exc).__name__}"

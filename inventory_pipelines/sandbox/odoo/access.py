"""Access rights per user: Odoo's ``ir.model.access``, kept per user instead of per group.

Odoo grants create, read, write and unlink on a model to groups, and a user has a right when
one of its groups has it. The emulator keeps the outcome per user: a user has every right
until a test restricts it (:meth:`AccessRights.restrict` gives exactly the rights named,
:meth:`AccessRights.revoke` takes one away), so a test can take one right from an
integration user and watch what the connector says. Refusals carry Odoo's own message.

Which right an RPC method needs: ``create``, ``write`` and ``unlink`` their own, a read-only
method ``read``, any other model method ``write`` (it changes records, as ``action_confirm``
does); the methods that only ask about rights, the user's context or the model's fields need
none, as in Odoo.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping

from .errors import AccessError

#: Odoo's access modes (``ir.model.access``)
OPERATIONS = ("read", "write", "create", "unlink")

#: methods Odoo answers whatever the user's rights on the model
UNCHECKED_METHODS = frozenset(
    {
        "check_access_rights",
        "has_access",
        "check_access",
        "context_get",
        "fields_get",
        "default_get",
    }
)

# Odoo's messages (odoo/addons/base/models/ir_model.py, ``IrModelAccess.check``)
_HEADERS = {
    "read": "You are not allowed to access '%(kind)s' (%(model)s) records.",
    "write": "You are not allowed to modify '%(kind)s' (%(model)s) records.",
    "create": "You are not allowed to create '%(kind)s' (%(model)s) records.",
    "unlink": "You are not allowed to delete '%(kind)s' (%(model)s) records.",
}
_NO_GROUP = "No group currently allows this operation."
_RESOLUTION = "Contact your administrator to request access if necessary."


def operation_of(method: str, readonly: bool) -> str | None:
    """The access mode an RPC call of ``method`` needs; None when it needs none."""
    if method in UNCHECKED_METHODS:
        return None
    if method in ("create", "write", "unlink"):
        return method
    return "read" if readonly else "write"


def check_mode(operation: str) -> None:
    """Refuse what is not one of Odoo's access modes, as Odoo does."""
    if operation not in OPERATIONS:
        raise ValueError("Invalid access mode")


class AccessRights:
    """Who may do what on which model; everyone may do everything until restricted."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._restricted: dict[int, dict[str, set[str]]] = {}

    def allowed(self, uid: int, model: str, operation: str) -> bool:
        """Whether user ``uid`` has ``operation`` on ``model``."""
        check_mode(operation)
        with self._lock:
            rights = self._restricted.get(uid)
            return rights is None or operation in rights.get(model, ())

    def restrict(self, uid: int, rights: Mapping[str, Iterable[str]]) -> None:
        """Give user ``uid`` exactly ``rights`` (model -> operations), nothing else."""
        given = {model: set(operations) for model, operations in rights.items()}
        for operations in given.values():
            for operation in operations:
                check_mode(operation)
        with self._lock:
            self._restricted[uid] = given

    def revoke(self, uid: int, model: str, operation: str, models: Iterable[str]) -> None:
        """Take ``operation`` on ``model`` from user ``uid``; an unrestricted user keeps every
        other right on ``models`` (every model of the database)."""
        check_mode(operation)
        with self._lock:
            rights = self._restricted.setdefault(uid, {m: set(OPERATIONS) for m in models})
            rights.get(model, set()).discard(operation)

    def unrestrict(self, uid: int) -> None:
        """Give user ``uid`` every right again."""
        with self._lock:
            self._restricted.pop(uid, None)

    def check(self, uid: int, model: str, description: str, operation: str) -> None:
        """Raise Odoo's ``AccessError`` unless user ``uid`` has ``operation`` on ``model``."""
        if not self.allowed(uid, model, operation):
            header = _HEADERS[operation] % {"kind": description or model, "model": model}
            raise AccessError(f"{header}\n\n{_NO_GROUP}\n\n{_RESOLUTION}")

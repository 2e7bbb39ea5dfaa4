"""Automation rules with a webhook action, as Odoo's ``base_automation`` runs them (17 and later).

A person sets one up in *Settings > Technical > Automation Rules* (trigger *On save*, action
*Send Webhook Notification*), or over the external API as the ORM allows it::

    quant = ir.model.search([("model", "=", "stock.quant")])
    watched = ir.model.fields.search([("model", "=", "stock.quant"), ("name", "=", "quantity")])
    base.automation.create({
        "name": "Stock changed", "model_id": quant[0], "trigger": "on_create_or_write",
        "trigger_field_ids": [(6, 0, watched)],
        "action_server_ids": [(0, 0, {"state": "webhook", "webhook_url": url,
                                       "webhook_field_ids": [(6, 0, fields)]})],
    })

(or the ``ir.actions.server`` first, then ``base_automation_id`` on it). Then, as Odoo's
``_run_action_webhook`` does:

- a record of the rule's model that is created, or written with a change to one of its trigger
  fields (any write when it has none), and that matches its ``filter_domain``, makes the action
  read it (``read(<chosen fields>, load=None)``, many2one as bare ids) and POST
  ``json.dumps({"_action": "<action name>(#<action id>)", "_id": id, "_model": model, "id": id,
  <chosen fields>}, sort_keys=True, default=str)`` with ``Content-Type: application/json``, a
  1 s timeout, once: no retry, no signature; the answer is only logged. An action runs once per
  record and transaction. The action's name defaults to its type's label, *Send Webhook
  Notification*.
- **17 and 18 send it inside the transaction**, before the commit: the rule runs during the
  write and the POST holds the transaction up to its timeout. Here the transaction holds the
  state lock while it sends, and ``commit_delay_s`` longer (the rest of a long transaction:
  other records, other rules), so whatever the write changed is readable only once the
  receiver has had its hint. (PostgreSQL would show a concurrent reader the previous row where
  the emulator makes it wait for the commit; either way the change is not readable before it.)
  A transaction that fails after the rule ran has still sent its webhooks.
- **19 sends it after the commit** (a postcommit hook), and nothing when the transaction rolls
  back.
- **16** has no webhook action: ``state="webhook"`` is refused as Odoo 16 refuses it.
- What changes a quant without the ORM fires nothing, as Odoo's raw-SQL quant merges fire
  nothing (:meth:`OdooState.set_quant_quantity_silently`).

Every delivery is kept in :attr:`Automation.deliveries` (``GET /sandbox/webhooks``) with when
it was sent, answered and committed.
"""

from __future__ import annotations

import ast
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from .orm import Field, Table
from .versions import VersionProfile

if TYPE_CHECKING:
    from .models import Env, OdooState

log = logging.getLogger(__name__)

#: the models whose records are the rules: a change to one of them reloads the rules
RULE_MODELS = frozenset({"base.automation", "ir.actions.server", "ir.model.fields"})
WEBHOOK_TIMEOUT_S = 1.0
#: Odoo posts with ``requests``
USER_AGENT = "python-requests/2.31.0"

FIELD_TYPES = (
    ("binary", "binary"),
    ("boolean", "boolean"),
    ("char", "char"),
    ("date", "date"),
    ("datetime", "datetime"),
    ("float", "float"),
    ("html", "html"),
    ("integer", "integer"),
    ("many2many", "many2many"),
    ("many2one", "many2one"),
    ("monetary", "monetary"),
    ("one2many", "one2many"),
    ("reference", "reference"),
    ("selection", "selection"),
    ("text", "text"),
)
ACTION_STATES_16 = (
    ("code", "Execute Python Code"),
    ("object_create", "Create a new Record"),
    ("object_write", "Update the Record"),
    ("multi", "Execute several actions"),
)
ACTION_STATES = (
    ("object_write", "Update Record"),
    ("object_create", "Create Record"),
    ("code", "Execute Code"),
    ("webhook", "Send Webhook Notification"),
    ("multi", "Execute Existing Actions"),
)
TRIGGERS_16 = (
    ("on_create", "On Creation"),
    ("on_write", "On Update"),
    ("on_create_or_write", "On Creation & Update"),
    ("on_unlink", "On Deletion"),
    ("on_change", "Based on Form Modification"),
    ("on_time", "Based on Timed Condition"),
)
TRIGGERS = (
    ("on_stage_set", "Stage is set to"),
    ("on_user_set", "User is set"),
    ("on_tag_set", "Tag is added"),
    ("on_state_set", "State is set to"),
    ("on_priority_set", "Priority is set to"),
    ("on_archive", "On archived"),
    ("on_unarchive", "On unarchived"),
    ("on_create_or_write", "On save"),
    ("on_create", "On creation"),
    ("on_write", "On update"),
    ("on_unlink", "On deletion"),
    ("on_change", "On UI change"),
    ("on_time", "Based on date field"),
    ("on_time_created", "After creation"),
    ("on_time_updated", "After last update"),
    ("on_webhook", "On webhook"),
)
CREATE_TRIGGERS = frozenset({"on_create", "on_create_or_write"})
WRITE_TRIGGERS = frozenset({"on_write", "on_create_or_write"})


# -- schema ---------------------------------------------------------------------------------------


def declare_models(table: Callable[..., Table], profile: VersionProfile) -> None:
    """Declare ``ir.model.fields``, ``ir.actions.server`` and ``base.automation`` as
    ``profile``'s Odoo has them (``table`` is the schema's table factory)."""
    table(
        "ir.model.fields",
        "Fields",
        [
            Field("name", "char", "Field Name", required=True, index=True),
            Field("field_description", "char", "Field Label", required=True),
            Field("model", "char", "Model Name", required=True, index=True),
            Field(
                "model_id",
                "many2one",
                "Model",
                relation="ir.model",
                required=True,
                index=True,
                ondelete="cascade",
            ),
            Field("ttype", "selection", "Field Type", selection=FIELD_TYPES, required=True),
            Field("relation", "char", "Related Model"),
            Field("required", "boolean", "Required"),
            Field("readonly", "boolean", "Readonly"),
            Field("store", "boolean", "Stored", default=True),
            Field(
                "state",
                "selection",
                "Type",
                selection=(("manual", "Custom Field"), ("base", "Base Field")),
                default="base",
            ),
        ],
        order="name",
        rec_name="field_description",
    )
    webhook = profile.webhook_timing is not None
    actions = [
        Field("name", "char", "Action Name", required=not webhook),
        Field("type", "char", "Action Type", default="ir.actions.server"),
        Field(
            "usage",
            "selection",
            "Usage",
            selection=(
                ("ir_actions_server", "Server Action"),
                ("ir_cron", "Scheduled Action"),
                ("base_automation", "Automation Rule"),
            ),
            default="ir_actions_server",
            required=True,
        ),
        Field(
            "model_id",
            "many2one",
            "Model",
            relation="ir.model",
            required=True,
            ondelete="cascade",
        ),
        Field("model_name", "char", "Model Name", related="model_id.model"),
        Field(
            "state",
            "selection",
            "Type",
            selection=ACTION_STATES if webhook else ACTION_STATES_16,
            default="object_write" if webhook else "code",
            required=True,
        ),
        Field("sequence", "integer", "Sequence", default=5),
        Field("code", "text", "Python Code"),
    ]
    automation = [
        Field("active", "boolean", "Active", default=True),
        Field("trigger", "selection", "Trigger", selection=TRIGGERS if webhook else TRIGGERS_16),
        Field("trigger_field_ids", "many2many", "Trigger Fields", relation="ir.model.fields"),
        Field("filter_pre_domain", "char", "Before Update Domain"),
        Field("filter_domain", "char", "Apply on"),
        Field("last_run", "datetime", "Last Run", readonly=True),
    ]
    if webhook:
        actions += [
            Field("webhook_url", "char", "Webhook URL"),
            Field("webhook_field_ids", "many2many", "Webhook Fields", relation="ir.model.fields"),
            Field(
                "base_automation_id",
                "many2one",
                "Automation Rule",
                relation="base.automation",
                index=True,
                ondelete="cascade",
            ),
        ]
        automation = [
            Field("name", "char", "Automation Rule Name", required=True),
            Field("description", "html", "Description"),
            Field(
                "model_id",
                "many2one",
                "Model",
                relation="ir.model",
                required=True,
                ondelete="cascade",
            ),
            Field("model_name", "char", "Model Name", related="model_id.model"),
            Field(
                "action_server_ids",
                "one2many",
                "Actions",
                relation="ir.actions.server",
                inverse="base_automation_id",
            ),
            *automation,
        ]
    else:
        # 16: an automated action *is* a server action (``_inherits``)
        automation = [
            Field(
                "action_server_id",
                "many2one",
                "Server Actions",
                relation="ir.actions.server",
                required=True,
                ondelete="cascade",
            ),
            Field("name", "char", "Action Name", related="action_server_id.name"),
            Field(
                "model_id",
                "many2one",
                "Model",
                relation="ir.model",
                related="action_server_id.model_id",
            ),
            *automation,
        ]
    table("ir.actions.server", "Server Actions", actions, order="sequence,name,id")
    table("base.automation", "Automation Rule", automation, order="id")


def describe_fields(state: OdooState) -> None:
    """One ``ir.model.fields`` row per field of every model (the bootstrap calls it)."""
    models = state.tables["ir.model"]
    model_ids = {row[models.pos["model"]]: rid for rid, row in models.records.items()}
    for name, t in sorted(state.tables.items()):
        for f in t.fields.values():
            state.insert(
                "ir.model.fields",
                {
                    "name": f.name,
                    "field_description": f.string,
                    "model": name,
                    "model_id": model_ids[name],
                    "ttype": f.type,
                    "relation": f.relation or False,
                    "required": f.required,
                    "readonly": f.readonly,
                    "store": f.store,
                },
            )


def before_create(env: Env, vals: dict[str, Any]) -> dict[str, Any]:
    """Odoo's defaults for a server action made from an automation rule (17+): its model is
    the rule's, its usage ``base_automation``, its name its type's label."""
    state = env.state
    if env.model != "ir.actions.server" or state.profile.webhook_timing is None:
        return vals
    automation_id = vals.get("base_automation_id")
    if automation_id:
        vals.setdefault("usage", "base_automation")
        if not vals.get("model_id"):
            vals["model_id"] = state.get("base.automation", int(automation_id), "model_id")
    if not vals.get("name"):
        labels = dict(ACTION_STATES)
        vals["name"] = labels.get(vals.get("state") or "object_write", "")
    return vals


# -- runtime --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookRule:
    """An active automation rule's webhook action, as the emulator runs it."""

    automation_id: int
    action_id: int
    action_name: str
    model: str
    trigger: str
    #: positions of the stored trigger fields in the model's rows (empty: any write)
    trigger_positions: tuple[int, ...]
    filter_domain: tuple[Any, ...] | None
    url: str
    fields: tuple[str, ...]


@dataclass
class Delivery:
    """One webhook POST and what became of it."""

    url: str
    payload: dict[str, Any]
    action_id: int
    record_id: int
    queued_at: float
    sent_at: float | None = None
    answered_at: float | None = None
    status: int | None = None
    error: str | None = None
    committed_at: float | None = None
    rolled_back: bool = False
    body: bytes = field(default=b"", repr=False)

    def as_json(self) -> dict[str, Any]:
        """The delivery for the control API (the URL without its path: it may hold a token)."""
        out = asdict(self)
        out.pop("body")
        parts = urlsplit(self.url)
        out["url"] = f"{parts.scheme}://{parts.netloc}/..."
        return out


@dataclass
class Commit:
    """What a transaction's end leaves to do once the lock is released."""

    precommitted: list[Delivery]
    postcommit: list[Delivery]


class Automation:
    """The webhook rules of one emulated database and the deliveries they made.

    :class:`OdooState` calls :meth:`watches` and :meth:`changed` where records are created or
    written, :meth:`commit` or :meth:`rollback` at the end of each outermost transaction (the
    state lock held) and :meth:`committed` once the lock is released.
    """

    def __init__(self, state: OdooState) -> None:
        self.state = state
        self.timing = state.profile.webhook_timing
        #: how long a 17/18 transaction stays open after its webhooks went out
        self.commit_delay_s = 0.0
        self.timeout_s = WEBHOOK_TIMEOUT_S
        self.deliveries: deque[Delivery] = deque(maxlen=10_000)
        self._log_lock = threading.Lock()
        self._rules: dict[str, list[WebhookRule]] = {}
        self._watched: frozenset[str] = RULE_MODELS
        self._stale = True
        self._pending: list[Delivery] = []
        self._done: set[tuple[int, int]] = set()
        self._client: httpx.Client | None = None

    # -- configuration ----------------------------------------------------------------------------

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Set ``commit_delay_s`` (17/18: how long the transaction stays open after sending)."""
        if "commit_delay_s" in settings:
            delay = float(settings["commit_delay_s"])
            if not 0 <= delay <= 30:
                raise ValueError("commit_delay_s must be between 0 and 30 seconds")
            self.commit_delay_s = delay
        return self.snapshot()

    def snapshot(self, deliveries: bool = True) -> dict[str, Any]:
        """The timing, the delay and (unless asked not to) every delivery so far."""
        out: dict[str, Any] = {"timing": self.timing, "commit_delay_s": self.commit_delay_s}
        if deliveries:
            with self._log_lock:
                out["deliveries"] = [d.as_json() for d in self.deliveries]
        return out

    def reset_log(self) -> None:
        """Forget the deliveries so far."""
        with self._log_lock:
            self.deliveries.clear()

    # -- hooks of the ORM -------------------------------------------------------------------------

    def watches(self, model: str) -> bool:
        """Whether a change to a record of ``model`` may matter (a rule's model or a rule)."""
        if self._stale:
            self._reload()
        return model in self._watched

    def changed(self, model: str, row: list, before: list | None) -> None:
        """A record was created (``before`` None) or written (``before``: its row before)."""
        if model in RULE_MODELS:
            self._stale = True
            return
        for rule in self._rules.get(model, ()):
            if before is None:
                if rule.trigger not in CREATE_TRIGGERS:
                    continue
            elif rule.trigger not in WRITE_TRIGGERS or (
                rule.trigger_positions and all(before[p] == row[p] for p in rule.trigger_positions)
            ):
                continue
            key = (rule.action_id, row[0])
            if key in self._done or not self._matches(rule, row[0]):
                continue
            self._done.add(key)
            self._pending.append(self._delivery(rule, row))

    def forget(self, model: str) -> None:
        """Records of ``model`` were deleted."""
        if model in RULE_MODELS:
            self._stale = True

    # -- transaction ends -------------------------------------------------------------------------

    def commit(self) -> Commit | None:
        """The outermost transaction ends well (lock held): 17/18 send now, then stay open for
        ``commit_delay_s``; 19 waits for :meth:`committed`."""
        pending, self._pending = self._pending, []
        self._done.clear()
        if not pending:
            return None
        if self.timing == "precommit":
            for delivery in pending:
                self._send(delivery)
            if self.commit_delay_s:
                time.sleep(self.commit_delay_s)
            return Commit(precommitted=pending, postcommit=[])
        return Commit(precommitted=[], postcommit=pending)

    def rollback(self) -> None:
        """The outermost transaction fails: what 17/18 sent during it stays sent; 19 drops its
        postcommit deliveries."""
        pending, self._pending = self._pending, []
        self._done.clear()
        for delivery in pending:
            delivery.rolled_back = True
            if self.timing == "precommit":
                self._send(delivery)
            else:
                log.warning("Webhook call to %s - cancelled due to a rollback", _host(delivery.url))
                self._record(delivery)

    def committed(self, commit: Commit) -> None:
        """The lock is released: stamp the pre-commit deliveries, send the postcommit ones."""
        now = time.time()
        for delivery in commit.precommitted:
            delivery.committed_at = now
        for delivery in commit.postcommit:
            delivery.committed_at = now
            self._send(delivery)

    # -- internals --------------------------------------------------------------------------------

    def _reload(self) -> None:
        rules: dict[str, list[WebhookRule]] = {}
        if self.timing is not None:
            for rule in self._active_rules():
                rules.setdefault(rule.model, []).append(rule)
        self._rules = rules
        self._watched = RULE_MODELS | frozenset(rules)
        self._stale = False

    def _active_rules(self) -> list[WebhookRule]:
        tables = self.state.tables
        actions, automations = tables["ir.actions.server"], tables["base.automation"]
        fields, models = tables["ir.model.fields"], tables["ir.model"]
        a, b = actions.pos, automations.pos
        out = []
        for action in sorted(actions.records.values(), key=lambda r: (r[a["sequence"]], r[0])):
            if action[a["state"]] != "webhook" or not action[a["base_automation_id"]]:
                continue
            rule = automations.records.get(action[a["base_automation_id"]])
            if rule is None or not rule[b["active"]]:
                continue
            model = models.records[rule[b["model_id"]]][models.pos["model"]]
            table = tables.get(model)
            url = action[a["webhook_url"]]
            if table is None or not url:
                continue
            trigger_names = [
                fields.records[fid][fields.pos["name"]]
                for fid in rule[b["trigger_field_ids"]]
                if fid in fields.records
            ]
            chosen = [
                fields.records[fid][fields.pos["name"]]
                for fid in action[a["webhook_field_ids"]]
                if fid in fields.records
            ]
            out.append(
                WebhookRule(
                    automation_id=rule[0],
                    action_id=action[0],
                    action_name=action[a["name"]] or "",
                    model=model,
                    trigger=rule[b["trigger"]] or "",
                    trigger_positions=tuple(table.pos[n] for n in trigger_names if n in table.pos),
                    filter_domain=_domain(rule[b["filter_domain"]], rule[0]),
                    url=url,
                    fields=tuple(n for n in chosen if n in table.fields),
                )
            )
        return out

    def _matches(self, rule: WebhookRule, rid: int) -> bool:
        if not rule.filter_domain:
            return True
        from .models import Env

        env = Env(self.state, rule.model)
        return bool(self.state.search_ids(env, [("id", "=", rid), *rule.filter_domain]))

    def _delivery(self, rule: WebhookRule, row: list) -> Delivery:
        from .models import Env

        vals: dict[str, Any] = {
            "_model": rule.model,
            "_id": row[0],
            "_action": f"{rule.action_name}(#{rule.action_id})",
        }
        if rule.fields:
            env = Env(self.state, rule.model, [row[0]])
            vals.update(self.state.read_rows(env, [row], list(rule.fields), None)[0])
        body = json.dumps(vals, sort_keys=True, default=str).encode()
        return Delivery(
            url=rule.url,
            payload=json.loads(body),
            action_id=rule.action_id,
            record_id=row[0],
            queued_at=time.time(),
            body=body,
        )

    def _send(self, delivery: Delivery) -> None:
        """One POST, never retried: 'send and forget', the answer only logged."""
        host = _host(delivery.url)
        delivery.sent_at = time.time()
        try:
            answer = self._http().post(
                delivery.url,
                content=delivery.body,
                headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
                timeout=self.timeout_s,
            )
            delivery.status = answer.status_code
            if answer.is_error:
                log.warning("Webhook call failed: %s answered %s", host, answer.status_code)
        except httpx.TimeoutException:
            delivery.error = "timeout"
            log.warning("Webhook call to %s timed out after %ss", host, self.timeout_s)
        except httpx.HTTPError as exc:
            delivery.error = type(exc).__name__
            log.warning("Webhook call to %s failed: %s", host, type(exc).__name__)
        delivery.answered_at = time.time()
        self._record(delivery)

    def _http(self) -> httpx.Client:
        # one client for the database: building one costs more than a loopback POST
        with self._log_lock:
            if self._client is None:
                self._client = httpx.Client()
            return self._client

    def _record(self, delivery: Delivery) -> None:
        with self._log_lock:
            self.deliveries.append(delivery)


def _host(url: str) -> str:
    """A webhook URL without its path (where a receiver's token lives) for the log."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _domain(text: Any, automation_id: int) -> tuple[Any, ...] | None:
    """A rule's ``filter_domain`` (a Python literal in Odoo), or None when it has none."""
    if not text:
        return None
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        log.warning("automation rule %s: filter_domain is not a literal domain", automation_id)
        return ((0, "=", 1),)
    return tuple(value) or None

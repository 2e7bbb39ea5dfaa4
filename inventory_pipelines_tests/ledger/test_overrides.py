"""Manual overrides and emergency stops in the ledger: a second person approves, only approved
and unexpired overrides apply, every step (refusals too) is audited; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy.engine import Engine

from inventory_pipelines.ledger import audit, create_engine, overrides
from inventory_pipelines.ledger.overrides import ALL_CHANNELS, OverrideError

T0 = dt.datetime(2026, 12, 4, 9, 0, tzinfo=dt.UTC)


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def requested(conn, *, actor: str = "alice", until: float = 60, **fields) -> overrides.Override:
    values = {"channel": "shopify", "sku": "SKU-000001", "quantity": 5, "reason": "launch"}
    return overrides.request(
        conn, **{**values, **fields}, expires_at=at(until), actor=actor, now=at(0)
    )


def actions(conn, entity: str) -> list[tuple[str, str]]:
    return [(e.action, e.actor) for e in audit.history(conn, entity=entity)]


def test_a_request_applies_nowhere_until_someone_else_approves_it(conn) -> None:
    override = requested(conn)
    assert (override.status, override.requested_by, override.approved_by) == (
        "requested",
        "alice",
        None,
    )
    assert overrides.active(conn, at(1)) == []
    approved = overrides.approve(conn, override.id, actor="bob", now=at(1))
    assert (approved.status, approved.approved_by, approved.approved_at) == (
        "approved",
        "bob",
        at(1),
    )
    assert [o.id for o in overrides.active(conn, at(2))] == [override.id]


def test_the_requester_cannot_approve_their_own_request_and_the_refusal_is_audited(conn) -> None:
    override = requested(conn)
    with pytest.raises(OverrideError, match="requested by alice: it must be approved by someone"):
        overrides.approve(conn, override.id, actor="alice", now=at(1))
    assert overrides.get(conn, override.id).status == "requested"
    [refusal] = audit.history(conn, entity=override.entity, action="override.refused")
    assert refusal.actor == "alice"
    assert refusal.after["attempt"] == "approve"
    assert "someone else" in refusal.after["refused"]
    assert refusal.before["status"] == "requested"


def test_every_step_is_audited_with_its_actor_before_and_after(conn) -> None:
    first = requested(conn, context={"os_user": "alice"})
    overrides.approve(conn, first.id, actor="bob", now=at(1))
    overrides.revoke(conn, first.id, actor="carol", reason="promo cancelled", now=at(2))
    second = requested(conn, until=10)
    overrides.approve(conn, second.id, actor="bob", now=at(1))
    overrides.expire_due(conn, actor="override_expiry", source="dagster", now=at(11))

    assert actions(conn, first.entity) == [
        ("override.requested", "alice"),
        ("override.approved", "bob"),
        ("override.revoked", "carol"),
    ]
    request_row, approval, revocation = audit.history(conn, entity=first.entity)
    assert request_row.before is None and request_row.after["quantity"] == 5
    assert request_row.after["context"] == {"os_user": "alice"}
    assert (approval.before["status"], approval.after["status"]) == ("requested", "approved")
    assert revocation.before["status"] == "approved"
    assert revocation.after["end_reason"] == "promo cancelled"
    assert actions(conn, second.entity)[-1] == ("override.expired", "override_expiry")


def test_only_approved_unexpired_unrevoked_overrides_apply(conn) -> None:
    waiting = requested(conn, sku="A")
    approved = requested(conn, sku="B")
    revoked = requested(conn, sku="C")
    expiring = requested(conn, sku="D", until=30)
    for override in (approved, revoked, expiring):
        overrides.approve(conn, override.id, actor="bob", now=at(1))
    overrides.revoke(conn, revoked.id, actor="bob", reason="wrong SKU", now=at(2))

    assert {o.sku for o in overrides.active(conn, at(29))} == {"B", "D"}
    assert {o.sku for o in overrides.active(conn, at(30))} == {"B"}  # D's time ran out
    assert overrides.get(conn, waiting.id).state_at(at(61)) == "expired"


def test_an_end_in_the_past_or_beyond_the_horizon_is_refused(conn) -> None:
    with pytest.raises(OverrideError, match="not in the future"):
        requested(conn, until=-1)
    with pytest.raises(OverrideError, match="more than 30 days away"):
        requested(conn, until=31 * 24 * 60)
    assert overrides.listed(conn, now=at(0), include_ended=True) == []


def test_what_has_ended_can_be_neither_approved_nor_revoked(conn) -> None:
    override = requested(conn, until=10)
    with pytest.raises(OverrideError, match="is expired: nothing to approve"):
        overrides.approve(conn, override.id, actor="bob", now=at(11))
    revoked = requested(conn)
    overrides.revoke(conn, revoked.id, actor="alice", reason="typo", now=at(1))
    with pytest.raises(OverrideError, match="already revoked"):
        overrides.revoke(conn, revoked.id, actor="bob", reason="again", now=at(2))
    with pytest.raises(OverrideError, match="there is no override #999"):
        overrides.approve(conn, 999, actor="bob", now=at(2))
    refused = audit.history(conn, action="override.refused")
    assert [(e.entity, e.after["attempt"]) for e in refused] == [
        (override.entity, "approve"),
        (revoked.entity, "revoke"),
        ("override/999", "approve"),
    ]


def test_a_break_glass_stop_applies_at_once_with_its_own_audit_action(conn) -> None:
    stop = overrides.stop(
        conn,
        channel=ALL_CHANNELS,
        pattern="SKU-00001*",
        expires_at=at(120),
        reason="product recall",
        actor="alice",
        break_glass=True,
        now=at(0),
    )
    assert (stop.kind, stop.quantity, stop.status, stop.approved_by) == (
        "stop",
        0,
        "approved",
        "alice",
    )
    assert stop.break_glass
    assert [o.id for o in overrides.active(conn, at(1))] == [stop.id]
    assert actions(conn, stop.entity) == [("override.break_glass", "alice")]


def test_a_stop_without_break_glass_waits_for_a_second_person(conn) -> None:
    stop = overrides.stop(
        conn,
        channel="amazon",
        pattern="SKU-0001*",
        expires_at=at(60),
        reason="listing error",
        actor="alice",
        now=at(0),
    )
    assert stop.status == "requested" and overrides.active(conn, at(1)) == []
    with pytest.raises(OverrideError, match="someone else"):
        overrides.approve(conn, stop.id, actor="alice", now=at(1))
    overrides.approve(conn, stop.id, actor="bob", now=at(1))
    assert [o.id for o in overrides.active(conn, at(2))] == [stop.id]


def test_an_override_on_every_channel_is_refused_only_a_stop_takes_them_all(conn) -> None:
    with pytest.raises(OverrideError, match="names one channel"):
        requested(conn, channel=ALL_CHANNELS)


def test_expiry_is_recorded_once_whoever_sees_it_first(conn) -> None:
    override = requested(conn, until=10)
    overrides.approve(conn, override.id, actor="bob", now=at(1))
    [expired] = overrides.expire_due(conn, actor="sensor", source="dagster", now=at(10))
    assert (expired.status, expired.ended_at, expired.ended_by) == ("expired", at(10), "sensor")
    assert overrides.expire_due(conn, actor="allocation", source="dagster", now=at(12)) == []
    assert len(audit.history(conn, entity=override.entity, action="override.expired")) == 1
    # it applied until its time ran out, whoever recorded that
    assert [o.id for o in overrides.ran_out_between(conn, at(5), at(15))] == [override.id]
    assert overrides.ran_out_between(conn, at(10), at(15)) == []


def test_a_revoked_or_never_approved_override_did_not_run_out(conn) -> None:
    revoked = requested(conn, until=10)
    overrides.approve(conn, revoked.id, actor="bob", now=at(1))
    overrides.revoke(conn, revoked.id, actor="bob", reason="done early", now=at(2))
    requested(conn, until=10)  # never approved
    assert overrides.ran_out_between(conn, at(0), at(20)) == []


def test_two_approvers_at_once_approve_it_once(engine: Engine) -> None:
    with engine.connect() as conn:
        override = requested(conn)
    url = engine.url.render_as_string(hide_password=False)
    start, outcomes = threading.Barrier(2), []

    def approver(name: str) -> None:
        own = create_engine(url)
        try:
            with own.connect() as conn:
                start.wait()
                try:
                    overrides.approve(conn, override.id, actor=name, now=at(1))
                    outcomes.append("approved")
                except OverrideError as exc:
                    outcomes.append(str(exc))
        finally:
            own.dispose()

    threads = [threading.Thread(target=approver, args=(n,)) for n in ("bob", "carol")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes)[0] == "approved"
    assert "already approved" in sorted(outcomes)[1]
    with engine.connect() as conn:
        assert len(audit.history(conn, entity=override.entity, action="override.approved")) == 1

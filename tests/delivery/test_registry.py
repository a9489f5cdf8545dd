"""The registry of message kinds: every kind has its capability's renderer, nothing else."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from capture.context import of
from capture.core.clock import utcnow
from capture.db.models import outbox
from capture.delivery import registry
from capture.delivery.outbox import job
from capture.delivery.registry import Kind
from capture.delivery.worker import Worker


def test_every_kind_is_delivered_by_the_capability_that_owns_it(app):
    assert registry.registered() == set(Kind)
    owners = {kind: registry.handler(kind).render or registry.handler(kind).run for kind in Kind}
    modules = {kind: fn.__module__ for kind, fn in owners.items()}
    assert modules[Kind.DIGEST] == "capture.reports.digest"
    assert modules[Kind.SIGN_IN] == "capture.desk.signin"
    assert modules[Kind.BOOKING_UPDATE] == modules[Kind.REMIND_VISITOR] == "capture.booking.updates"
    assert modules[Kind.RETENTION] == "capture.privacy.erasure"
    assert not any(m.startswith("capture.delivery.worker") for m in modules.values())
    assert [kind for kind in Kind if registry.handler(kind).capped] == [Kind.CONFIRM_VISITOR]
    assert registry.is_chore(Kind.RETENTION) and not registry.is_chore(Kind.DIGEST)


def test_a_kind_cannot_be_taken_over_by_other_code(app):
    with pytest.raises(ValueError, match="weekly_digest"):
        registry.register(Kind.DIGEST, lambda r, job: None)
    registry.register(Kind.DIGEST, registry.handler(Kind.DIGEST).render)  # a second app: the same code


def test_a_kind_nobody_registers_is_set_aside_as_poison_and_the_queue_moves_on(app):
    cap = of(app)
    with cap.engine.begin() as conn:
        conn.execute(outbox.insert(), [job(None, "fax", "ops@fernleaf.example", "<fax.1@fernleaf.example>", utcnow())])
    Worker(cap).run_once()
    with cap.engine.connect() as conn:
        row = conn.execute(select(outbox).where(outbox.c.kind == "fax")).mappings().one()
    assert row["status"] == "dead" and "unknown message kind 'fax'" in row["last_error"]

"""The audit log on an in-memory SQLite database (one connection, used in turn):
records queue without waiting and read back after a flush."""

from __future__ import annotations

import datetime

import pytest

from kubeops.respond.audit import AuditError, AuditLog, AuditRecord, records


async def test_an_in_memory_log_stores_and_queries() -> None:
    audit = await AuditLog.open("sqlite:///:memory:", retry_for=0)
    t0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    for i in range(1200):
        audit.record(
            AuditRecord(
                time=t0 + datetime.timedelta(milliseconds=i),
                rule="r",
                outcome="suppressed" if i % 2 else "succeeded",
            )
        )
    assert audit.pending == 1200
    await audit.flush(timeout=30)
    assert await audit.count() == 1200
    assert await audit.count(outcome="succeeded") == 600
    newest = await audit.query(limit=1)
    assert newest[0].time == t0 + datetime.timedelta(milliseconds=1199)
    assert records(newest)[0]["time"] == "2026-01-01T00:00:01.199000+00:00"
    assert await audit.prune(0) == 1200
    await audit.close()
    await audit.close()  # twice is fine
    with pytest.raises(AuditError):
        audit.record(newest[0])


def test_repr_masks_the_password() -> None:
    audit = AuditLog("postgresql://kubeops:s3cret@db/audit")
    assert repr(audit) == "AuditLog('postgresql://kubeops:***@db/audit')"


async def test_past_the_bound_new_records_are_dropped_and_counted() -> None:
    from kubeops.respond.metrics import RespondMetrics

    metrics = RespondMetrics()
    audit = await AuditLog.open("sqlite:///:memory:", metrics=metrics)
    audit.max_pending = 10
    now = datetime.datetime.now(datetime.UTC)
    for _ in range(15):  # the writer has not run yet: all wait
        audit.record(AuditRecord(time=now, rule="r", outcome="fired"))
    assert (audit.pending, audit.dropped) == (10, 5)
    assert metrics.value("kubeops_respond_audit_errors_total") == 5
    await audit.flush(timeout=30)
    assert await audit.count() == 10
    await audit.close()

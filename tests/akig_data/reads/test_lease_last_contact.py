"""lease_last_contact (sql/044): each lease's last call and last visit, kept by triggers, from which
late_sites takes a late site's last contact. After every kind of write to calls and visits (one row, a
bulk statement, a call moved to another lease or time, deletions, a truncation) the stored rows equal their
sources (lease_last_contact_drift), and late_sites' last contact equals the latest call or visit of the
site's late leases before the day after D, computed here from the raw rows, for a D after every contact and
for a D with contacts after it."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from akig_data import reads
from akig_data.testing.ledger import Ledger

AS_OF = [dt.date(2026, 6, 30), dt.date(2026, 9, 30)]


def run(rt, sql: str, **params) -> None:
    with rt.engine.begin() as conn:
        conn.execute(sa.text(sql), params)
    rt.memo.bump(["calls", "visits"])


def drift(rt) -> int:
    with rt.engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM lease_last_contact_drift")).scalar()


def expected(rt, as_of: dt.date) -> dict[str, dt.datetime | None]:
    """Per site with a late lease at D: the latest call or visit of its late leases before D + 1 (the
    bound as PostgreSQL makes it from the date, in the connection's time zone), from the raw rows."""
    late = reads.arrears_by_lease(as_of=as_of)
    late = late[late["arrears"] > 0]
    with rt.engine.connect() as conn:
        bound = conn.execute(sa.text("SELECT CAST(CAST(:d AS date) + 1 AS timestamptz)"), {"d": as_of}).scalar()
        contacts = conn.execute(sa.text(
            "SELECT l.lease_ref, c.called_at FROM calls c JOIN leases l ON l.id = c.lease_id"
            " UNION ALL SELECT l.lease_ref, v.visited_at FROM visits v JOIN leases l ON l.id = v.lease_id")).all()
    out: dict[str, dt.datetime | None] = {}
    for site, leases in late.groupby("site_ref")["lease_ref"]:
        times = [at for lease, at in contacts if lease in set(leases) and at < bound]
        out[site] = max(times) if times else None
    return out


def check(rt) -> None:
    assert drift(rt) == 0
    for as_of in AS_OF:
        got = reads.late_sites(as_of=as_of)
        shown = {site: (None if at is None or at != at else at.to_pydatetime())
                 for site, at in zip(got["site_ref"], got["last_contact_at"])}
        assert shown == expected(rt, as_of), as_of


def test_the_last_contact_follows_every_write_to_calls_and_visits(fresh_db):
    rt = fresh_db
    ledger = Ledger(rt)
    ledger.owner("O1")
    ledger.site("S1", "O1")
    ledger.site("S2", "O1", commune="Dixinn")
    for lease, unit, site in (("L1", "U1", "S1"), ("L2", "U2", "S1"), ("L3", "U3", "S2")):
        ledger.unit(unit, site)
        ledger.tenant(f"T-{lease}")
        ledger.lease(lease, unit, f"T-{lease}", start="2026-01-01")   # nothing paid: late at both dates
    run(rt, "INSERT INTO agents (agent_ref, full_name) VALUES ('A1', 'Agent')")
    insert_call = ("INSERT INTO calls (call_ref, lease_id, agent_id, called_at, outcome)"
                   " SELECT :ref, l.id, a.id, CAST(:at AS timestamptz), 'reached' FROM leases l, agents a"
                   " WHERE l.lease_ref = :lease AND a.agent_ref = 'A1'")
    insert_visit = ("INSERT INTO visits (visit_ref, lease_id, agent_id, visited_at, outcome)"
                    " SELECT :ref, l.id, a.id, CAST(:at AS timestamptz), 'absent' FROM leases l, agents a"
                    " WHERE l.lease_ref = :lease AND a.agent_ref = 'A1'")
    check(rt)   # no contact at all: every late site without one

    for ref, lease, at in (("C1", "L1", "2026-03-01T10:00:00+00:00"), ("C2", "L1", "2026-06-20T09:00:00+00:00"),
                           ("C3", "L2", "2026-07-15T08:00:00+00:00"),     # after the first D: probed
                           ("C4", "L2", "2026-06-30T23:30:00+00:00")):    # the evening of D itself
        run(rt, insert_call, ref=ref, lease=lease, at=at)
    for ref, lease, at in (("V1", "L3", "2026-05-05T12:00:00+00:00"), ("V2", "L3", "2026-07-02T12:00:00+00:00")):
        run(rt, insert_visit, ref=ref, lease=lease, at=at)
    check(rt)

    # Moved in time (now after the first D), then to another lease.
    run(rt, "UPDATE calls SET called_at = '2026-08-10T10:00:00+00:00' WHERE call_ref = 'C2'")
    check(rt)
    run(rt, "UPDATE calls SET lease_id = (SELECT id FROM leases WHERE lease_ref = 'L3') WHERE call_ref = 'C1'")
    check(rt)

    # Deleted: the latest visit of L3, then every call of L2 (its row goes when nothing is left).
    run(rt, "DELETE FROM visits WHERE visit_ref = 'V2'")
    check(rt)
    run(rt, "DELETE FROM calls WHERE lease_id = (SELECT id FROM leases WHERE lease_ref = 'L2')")
    with rt.engine.connect() as conn:
        assert conn.execute(sa.text(
            "SELECT count(*) FROM lease_last_contact c JOIN leases l ON l.id = c.lease_id"
            " WHERE l.lease_ref = 'L2'")).scalar() == 0
    check(rt)

    # One statement for many rows, as a bulk load writes them.
    run(rt, "INSERT INTO calls (call_ref, lease_id, agent_id, called_at, outcome)"
            " SELECT 'B' || g, l.id, a.id, TIMESTAMPTZ '2026-02-01 08:00+00' + g * INTERVAL '41 hours', 'no_answer'"
            "   FROM generate_series(1, 150) g JOIN leases l ON l.lease_ref = 'L' || (1 + g % 3), agents a")
    check(rt)

    run(rt, "TRUNCATE visits")
    check(rt)


def test_the_desk_keeps_the_last_contact_exact_as_the_write_role(seeded):
    """The desk writes calls and visits as akig_write, which cannot write lease_last_contact itself: the
    triggers' SECURITY DEFINER functions do."""
    from akig_data.access.scope import Principal
    from akig_data.writes import collection

    lease = reads.arrears_by_lease(as_of="2026-06-30").sort_values("arrears").iloc[-1]["lease_ref"]
    collection.record_call(lease, "reached", agent_ref="AGT-001", who=Principal("awa", "manager"))
    collection.record_visit(lease, "absent", lat=9.53, lon=-13.68, agent_ref="AGT-001",
                            who=Principal("awa", "manager"))
    assert drift(seeded) == 0
    with seeded.engine.connect() as conn:
        stored = conn.execute(sa.text(
            "SELECT c.last_call_at, c.last_visit_at FROM lease_last_contact c JOIN leases l ON l.id = c.lease_id"
            " WHERE l.lease_ref = :l"), {"l": lease}).one()
    assert stored.last_call_at is not None and stored.last_visit_at is not None
    assert dt.datetime.now(dt.timezone.utc) - stored.last_call_at < dt.timedelta(minutes=5)

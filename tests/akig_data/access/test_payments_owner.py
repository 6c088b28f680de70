"""payments.owner_id (sql/048): each payment carries its lease's owner, kept by triggers whatever the write
(a payment inserted with another owner named, moved to another lease, its lease's site given to another
owner), and the owner's row-level security on payments filters by it: an owner reads his payments and no
one else's, and the filter is a value computed once per statement, not a list of his leases built again for
each monthly partition."""

from __future__ import annotations

import sqlalchemy as sa

from akig_data.engine import fetch_arrow


def drift(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM payments_owner_drift")).scalar()


def test_a_payment_carries_its_leases_owner_through_every_write(seeded):
    engine = seeded.engine
    assert drift(engine) == 0
    with engine.begin() as conn:
        two = conn.execute(sa.text(
            "SELECT l.id, l.owner_id, l.site_id FROM leases l WHERE l.owner_id IN"
            " (SELECT min(owner_id) FROM leases UNION SELECT max(owner_id) FROM leases) ORDER BY l.owner_id, l.id")).all()
        first, other = two[0], two[-1]
        assert first.owner_id != other.owner_id
        # an owner named by the writer is not taken: the lease's is
        conn.execute(sa.text(
            "INSERT INTO payments (payment_ref, lease_id, amount, method, paid_at, owner_id)"
            " VALUES ('PAY-OWNER-1', :lease, 10000, 'cash', '2026-06-15T10:00:00+00:00', :wrong)"),
            {"lease": first.id, "wrong": other.owner_id})
        assert conn.execute(sa.text("SELECT owner_id FROM payments WHERE payment_ref = 'PAY-OWNER-1'")).scalar() \
            == first.owner_id
        # moved to another owner's lease
        conn.execute(sa.text("UPDATE payments SET lease_id = :lease WHERE payment_ref = 'PAY-OWNER-1'"),
                     {"lease": other.id})
        assert conn.execute(sa.text("SELECT owner_id FROM payments WHERE payment_ref = 'PAY-OWNER-1'")).scalar() \
            == other.owner_id
        # the site of the first lease given to the other owner: its leases and their payments follow
        conn.execute(sa.text("UPDATE sites SET owner_id = :owner WHERE id = :site"),
                     {"owner": other.owner_id, "site": first.site_id})
        moved = conn.execute(sa.text("SELECT DISTINCT owner_id FROM payments WHERE lease_id = :lease"),
                             {"lease": first.id}).scalars().all()
    assert moved in ([other.owner_id], [])
    assert drift(engine) == 0


def test_an_owner_reads_his_payments_only_with_one_filter_per_statement(seeded):
    engine = seeded.engine
    with engine.connect() as conn:
        owners = conn.execute(sa.text("SELECT owner_ref FROM owners ORDER BY owner_ref")).scalars().all()
        per_owner = dict(conn.execute(sa.text(
            "SELECT o.owner_ref, count(*) FROM payments p JOIN leases l ON l.id = p.lease_id"
            " JOIN owners o ON o.id = l.owner_id GROUP BY o.owner_ref")).all())
    for owner in owners:
        seen = fetch_arrow(engine, "SELECT count(*) AS n, count(DISTINCT owner_id) AS owners FROM payments", {},
                           scope=owner).to_pylist()[0]
        assert seen["n"] == per_owner.get(owner, 0)
        assert seen["owners"] <= 1
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT set_config('akig.owner_ref', :o, false)"), {"o": owners[0]})
        conn.execute(sa.text("SET role akig_read_owner"))
        text = "\n".join(conn.execute(sa.text(
            "EXPLAIN SELECT sum(amount) FROM payments WHERE lease_id = 1")).scalars().all())
        conn.execute(sa.text("RESET role"))
    assert text.count("Index Scan") + text.count("Seq Scan") + text.count("Bitmap Heap Scan") > 10  # every partition
    assert "SubPlan" not in text      # no list of leases built for each partition

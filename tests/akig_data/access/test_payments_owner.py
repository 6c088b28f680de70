"""payments.owner_id (sql/048): each payment carries its lease's owner, written by the data layer's writers and
held to its lease's by a foreign key (refused otherwise, moved with the lease when the lease's site changes
owner). The owner's row-level security on payments filters by it: an owner reads his payments and no one
else's, and the list of his leases, built again for each monthly partition by the former policy, is built
only for a payment written without an owner (by hand), which is still filtered by its lease."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from akig_data.access.scope import Principal
from akig_data.engine import fetch_arrow
from akig_data.writes import collection


def _owner_counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text(
            "SELECT o.owner_ref, count(*) FROM payments p JOIN leases l ON l.id = p.lease_id"
            " JOIN owners o ON o.id = l.owner_id GROUP BY o.owner_ref")).all())


def test_the_writers_give_each_payment_its_leases_owner_and_the_key_holds_it(seeded):
    engine = seeded.engine
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM payments WHERE owner_id IS NULL")).scalar() == 0  # loaded
        two = conn.execute(sa.text(
            "SELECT l.id, l.lease_ref, l.owner_id, l.site_id FROM leases l WHERE l.owner_id IN"
            " (SELECT min(owner_id) FROM leases UNION SELECT max(owner_id) FROM leases)"
            " ORDER BY l.owner_id, l.id")).all()
    first, other = two[0], two[-1]
    assert first.owner_id != other.owner_id
    collection.record_payment(first.lease_ref, 10_000, "cash", paid_at="2026-06-15T10:00:00+00:00",
                              who=Principal("awa", "manager"))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT owner_id FROM payments WHERE lease_id = :l ORDER BY id DESC LIMIT 1"),
                            {"l": first.id}).scalar() == first.owner_id
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:      # another owner is refused
        conn.execute(sa.text(
            "INSERT INTO payments (payment_ref, lease_id, owner_id, amount, method, paid_at)"
            " VALUES ('PAY-OWNER-WRONG', :lease, :wrong, 10000, 'cash', '2026-06-15T10:00:00+00:00')"),
            {"lease": first.id, "wrong": other.owner_id})
    with engine.begin() as conn:   # the first lease's site given to the other owner: its payments follow
        conn.execute(sa.text("UPDATE sites SET owner_id = :owner WHERE id = :site"),
                     {"owner": other.owner_id, "site": first.site_id})
        owners = conn.execute(sa.text("SELECT DISTINCT owner_id FROM payments WHERE lease_id = :lease"),
                              {"lease": first.id}).scalars().all()
    assert owners == [other.owner_id]


def test_an_owner_reads_his_payments_only_and_builds_no_lease_list(seeded):
    engine = seeded.engine
    with engine.connect() as conn:
        owners = conn.execute(sa.text("SELECT owner_ref FROM owners ORDER BY owner_ref")).scalars().all()
    per_owner = _owner_counts(engine)
    for owner in owners:
        seen = fetch_arrow(engine, "SELECT count(*) AS n FROM payments", {}, scope=owner).to_pylist()[0]
        assert seen["n"] == per_owner.get(owner, 0)
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT set_config('akig.owner_ref', :o, false)"), {"o": owners[0]})
        conn.execute(sa.text("SET role akig_read_owner"))
        plan = conn.execute(sa.text("EXPLAIN (ANALYZE) SELECT sum(amount) FROM payments")).scalars().all()
        conn.execute(sa.text("RESET role"))
    scans_of_leases = [line for line in plan if " on leases" in line]
    assert len([line for line in plan if "on payments_" in line]) > 10          # every partition is read
    assert scans_of_leases and all("never executed" in line for line in scans_of_leases)


def test_a_payment_written_without_its_owner_is_still_its_owners_only(seeded):
    engine = seeded.engine
    with engine.begin() as conn:
        lease = conn.execute(sa.text(
            "SELECT l.id, o.owner_ref FROM leases l JOIN owners o ON o.id = l.owner_id ORDER BY l.id LIMIT 1")).one()
        conn.execute(sa.text(
            "INSERT INTO payments (payment_ref, lease_id, amount, method, paid_at)"
            " VALUES ('PAY-BY-HAND', :lease, 10000, 'cash', '2026-06-15T10:00:00+00:00')"), {"lease": lease.id})
        others = conn.execute(sa.text("SELECT owner_ref FROM owners WHERE owner_ref <> :o"),
                              {"o": lease.owner_ref}).scalars().all()
    sql = "SELECT count(*) AS n FROM payments WHERE payment_ref = 'PAY-BY-HAND'"
    assert fetch_arrow(engine, sql, {}, scope=lease.owner_ref).to_pylist() == [{"n": 1}]
    assert all(fetch_arrow(engine, sql, {}, scope=o).to_pylist() == [{"n": 0}] for o in others)

"""A small builder of hand-made ledgers for rule tests: owners, sites, units, tenants, leases, payments
and promises written with plain parameterised INSERTs (each write bumps the cache as a command would)."""

from __future__ import annotations

import datetime as dt
import itertools

import sqlalchemy as sa

from akig_data.runtime import Runtime

_counter = itertools.count(1)


class Ledger:
    def __init__(self, rt: Runtime):
        self.rt = rt

    def _run(self, table: str, sql: str, **params) -> None:
        with self.rt.engine.begin() as conn:
            conn.execute(sa.text(sql), params)
        self.rt.memo.bump([table])

    def owner(self, ref: str = "O1", name: str = "Propriétaire") -> str:
        self._run("owners", "INSERT INTO owners (owner_ref, name) VALUES (:r, :n)", r=ref, n=name)
        return ref

    def site(self, ref: str = "S1", owner: str = "O1", commune: str = "Kaloum", quartier: str = "Boulbinet") -> str:
        self._run("sites",
                  "INSERT INTO sites (site_ref, owner_id, name, commune, quartier, lat, lon) "
                  "SELECT :r, id, :r, :c, :q, 9.51, -13.71 FROM owners WHERE owner_ref = :o",
                  r=ref, o=owner, c=commune, q=quartier)
        return ref

    def unit(self, ref: str, site: str = "S1", rent: int = 100_000) -> str:
        self._run("units",
                  "INSERT INTO units (unit_ref, site_id, label, monthly_rent) "
                  "SELECT :r, id, :r, :m FROM sites WHERE site_ref = :s", r=ref, s=site, m=rent)
        return ref

    def tenant(self, ref: str, name: str | None = None) -> str:
        self._run("tenants", "INSERT INTO tenants (tenant_ref, full_name) VALUES (:r, :n)", r=ref, n=name or ref)
        return ref

    def lease(self, ref: str, unit: str, tenant: str, start: str, end: str | None = None,
              rent: int = 100_000, due_day: int = 5) -> str:
        self._run("leases",
                  "INSERT INTO leases (lease_ref, unit_id, tenant_id, start_date, end_date, monthly_rent, due_day) "
                  "SELECT :r, u.id, t.id, CAST(:s AS date), CAST(:e AS date), :m, :d "
                  "FROM units u, tenants t WHERE u.unit_ref = :u AND t.tenant_ref = :t",
                  r=ref, u=unit, t=tenant, s=start, e=end, m=rent, d=due_day)
        return ref

    def pay(self, lease: str, paid_at: str, amount: int, method: str = "cash", ref: str | None = None) -> str:
        ref = ref or f"P{next(_counter)}"
        self._run("payments",
                  "INSERT INTO payments (payment_ref, lease_id, paid_at, amount, method) "
                  "SELECT :r, id, CAST(:at AS timestamptz), :a, :m FROM leases WHERE lease_ref = :l",
                  r=ref, l=lease, at=paid_at, a=amount, m=method)
        return ref

    def promise(self, ref: str, lease: str, created_at: str, due_date: str, amount: int) -> str:
        self._run("promises",
                  "INSERT INTO promises (promise_ref, lease_id, created_at, due_date, amount) "
                  "SELECT :r, id, CAST(:c AS timestamptz), CAST(:d AS date), :a FROM leases WHERE lease_ref = :l",
                  r=ref, l=lease, c=created_at, d=due_date, a=amount)
        return ref

    def one_lease(self, start: str = "2026-01-01", end: str | None = None, rent: int = 100_000,
                  due_day: int = 5, lease: str = "L1", owner: str = "O1", site: str = "S1") -> str:
        """Owner, site, unit, tenant and one lease, in one call."""
        if not self._exists("owners", "owner_ref", owner):
            self.owner(owner)
        if not self._exists("sites", "site_ref", site):
            self.site(site, owner)
        self.unit(f"U-{lease}", site, rent)
        self.tenant(f"T-{lease}")
        return self.lease(lease, f"U-{lease}", f"T-{lease}", start, end, rent, due_day)

    def _exists(self, table: str, column: str, ref: str) -> bool:
        with self.rt.engine.connect() as conn:
            return bool(conn.execute(sa.text(f"SELECT count(*) FROM {table} WHERE {column} = :r"), {"r": ref}).scalar())


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)

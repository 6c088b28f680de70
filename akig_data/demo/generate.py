"""The synthetic data set: owners, sites, units, tenants, leases with five payment behaviours, agents
with zones, the collection work (calls, visits, promises) on late dues, and GPS tracks.

Deterministic for a given (scale, seed, until): the same arguments give the same rows, byte for byte.
Payments are generated with numpy over all dues at once (6 M dues at `large` scale), never row by row.

Made to be fair to a model that predicts late payment (akig_data/risk), not easy for it:

* a tenant's behaviour drifts: each month a hidden state (on time, often late, partial, stopped, ahead)
  moves along a Markov chain (TRANSITIONS): a good payer can lose his job and pay late for a while, a
  late payer can recover; tenants drawn as "stopped" pay like late payers until they stop;
* seasons matter (akig_data/demo/calendar.py): in September-October (school fees), Ramadan and the weeks
  around Tabaski, good payers are sometimes late and late payers later or short;
* the collection work follows what the ledger shows, not the hidden state: agents call and visit leases
  whose due is still unpaid five days after its date, over the whole history, and a promise is kept or
  broken only by the payments that follow it;
* no stored column carries the hidden state or the behaviour drawn for a tenant.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from akig_data.demo.calendar import hard_days
from akig_data.demo.names import COMPANY_FORMS, FEMALE, MALE, SURNAMES
from akig_data.demo.places import COMMUNE_WEIGHTS, COMMUNES, SITE_NAMES, SITE_PREFIXES, UNIT_KINDS


@dataclass(frozen=True)
class Scale:
    owners: int
    sites: int
    tenants: int
    years: int
    agents: int


SCALES = {
    "small": Scale(owners=3, sites=10, tenants=300, years=2, agents=6),
    "demo": Scale(owners=20, sites=120, tenants=5_000, years=3, agents=40),
    "large": Scale(owners=500, sites=2_000, tenants=100_000, years=5, agents=200),
}

# Tenants' payment behaviours and their shares.
BEHAVIOURS = ("on_time", "often_late", "partial", "stopped", "ahead")
BEHAVIOUR_SHARES = (0.42, 0.25, 0.13, 0.08, 0.12)
# Monthly moves of the hidden state (rows: from, columns: to, in BEHAVIOURS' order; what is left stays).
# A good payer loses his job about once in seven years; a late payer recovers in about two years.
TRANSITIONS = np.array([
    #  on_time  late    partial stopped ahead
    [0.0,     0.012,  0.006,  0.0015, 0.004],   # on_time
    [0.040,   0.0,    0.010,  0.004,  0.0],     # often_late
    [0.025,   0.025,  0.0,    0.006,  0.0],     # partial
    [0.0,     0.030,  0.0,    0.0,    0.0],     # stopped (starts paying again, late)
    [0.010,   0.005,  0.0,    0.0,    0.0],     # ahead
])
# In a hard month (calendar.hard_days): share of good payers who are late, extra share of late payers who
# skip the month, and what a partial payer manages to pay of his usual share.
HARD_LATE_SHARE = 0.15
HARD_SKIP_SHARE = 0.06
HARD_PARTIAL_FACTOR = 0.8
# Contacts on a due still unpaid five days after its date (per due, Poisson means).
CALLS_PER_LATE_DUE = 0.9
VISITS_PER_LATE_DUE = 0.35
METHODS = ("cash", "orange_money", "mtn_momo", "bank")
METHOD_SHARES = (0.35, 0.33, 0.20, 0.12)
CALL_OUTCOMES = ("no_answer", "wrong_number", "reached", "refused", "promise", "paid")
CALL_SHARES = (0.35, 0.03, 0.25, 0.07, 0.20, 0.10)
VISIT_OUTCOMES = ("absent", "reached", "refused", "promise", "paid")
VISIT_SHARES = (0.25, 0.30, 0.08, 0.25, 0.12)
EPOCH = np.datetime64("1970-01-01", "D")


@dataclass
class Table:
    name: str
    columns: tuple[str, ...]
    rows: Sequence[tuple] | Iterator[tuple]
    count: int


def _days(d: dt.date) -> int:
    return (d - dt.date(1970, 1, 1)).days


def month_idx(days: np.ndarray) -> np.ndarray:
    d = days.astype("datetime64[D]")
    months = d.astype("datetime64[M]").astype(np.int64)  # months since 1970-01
    return months + 1970 * 12


def due_in_month(mi: np.ndarray, due_day: np.ndarray) -> np.ndarray:
    """Day numbers (since 1970-01-01) of the due dates, due_day clamped to the month's length."""
    m = (mi - 1970 * 12).astype("datetime64[M]")
    first = m.astype("datetime64[D]")
    length = ((m + 1).astype("datetime64[D]") - first).astype(np.int64)
    return (first - EPOCH).astype(np.int64) + np.minimum(due_day, length) - 1


def first_due_month(days: np.ndarray, due_day: np.ndarray) -> np.ndarray:
    mi = month_idx(days)
    return mi + (due_in_month(mi, due_day) < days)


def last_due_month(days: np.ndarray, due_day: np.ndarray) -> np.ndarray:
    mi = month_idx(days)
    return mi - (due_in_month(mi, due_day) > days)


def _iso_dates(days: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(days.astype("datetime64[D]"), unit="D")


def _iso_times(seconds: np.ndarray) -> list[str]:
    """UTC (= Conakry) timestamps from seconds since the epoch, as ISO text with offset."""
    text = np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s")
    return [t + "+00:00" for t in text]


def haversine_m(lat1, lon1, lat2, lon2):
    """Great-circle distance in metres (numpy-friendly)."""
    r = 6_371_000.0
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * r * np.arcsin(np.sqrt(a))


class DemoGenerator:
    """Builds every table of the demo data set for one scale, seed and last day (`until`)."""

    def __init__(self, scale: str | Scale, seed: int = 7, until: dt.date | None = None):
        self.scale = SCALES[scale] if isinstance(scale, str) else scale
        self.seed = seed
        self.until = until or dt.date.today()
        self.rng = np.random.default_rng(seed)
        self.start = self.until - dt.timedelta(days=365 * self.scale.years)

    # -- people -------------------------------------------------------------------------------------
    def _person(self) -> str:
        rng = self.rng
        given = MALE if rng.random() < 0.55 else FEMALE
        return f"{given[rng.integers(len(given))]} {SURNAMES[rng.integers(len(SURNAMES))]}"

    def _phone(self) -> str:
        prefix = ("62", "66", "65", "61")[self.rng.integers(4)]
        n = self.rng.integers(0, 10_000_000)
        digits = f"{prefix}{self.rng.integers(0, 10)}{n:07d}"
        return f"+224 {digits[:3]} {digits[3:5]} {digits[5:7]} {digits[7:9]}"

    @staticmethod
    def _email(name: str, n: int) -> str:
        import unicodedata

        plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
        return plain.replace(" ", ".").replace("'", "") + f"{n}@exemple.gn"

    # -- the whole set --------------------------------------------------------------------------------
    def tables(self) -> list[Table]:
        """Every table, parents first, ready for akig_data.writes.bulk.load_rows."""
        rng = self.rng
        sc = self.scale
        out: list[Table] = []

        # Owners: persons and companies.
        owners = []
        for i in range(sc.owners):
            if rng.random() < 0.6:
                name = ("El Hadj " if rng.random() < 0.3 else "") + self._person()
            else:
                name = f"{COMPANY_FORMS[rng.integers(len(COMPANY_FORMS))]} {SURNAMES[rng.integers(len(SURNAMES))]}"
                name += " & Fils" if rng.random() < 0.3 else ""
            owners.append((f"OWN-{i + 1:04d}", name, self._phone(), self._email(name, i + 1)))
        out.append(Table("owners", ("owner_ref", "name", "phone", "email"), owners, len(owners)))

        # Sites: every owner has at least one; a few owners have many (Pareto weights).
        communes = list(COMMUNE_WEIGHTS)
        weights = np.array([COMMUNE_WEIGHTS[c] for c in communes])
        owner_of_site = np.concatenate([
            np.arange(sc.owners)[: sc.sites],
            rng.choice(sc.owners, size=max(0, sc.sites - sc.owners), p=self._pareto(sc.owners)),
        ])
        rng.shuffle(owner_of_site)
        sites, site_commune, site_lat, site_lon, site_base = [], [], [], [], []
        for i in range(sc.sites):
            commune = communes[rng.choice(len(communes), p=weights / weights.sum())]
            base, quartiers = COMMUNES[commune]
            quartier, lat, lon = quartiers[rng.integers(len(quartiers))]
            lat += rng.normal(0, 0.003)
            lon += rng.normal(0, 0.003)
            name = f"{SITE_PREFIXES[rng.integers(len(SITE_PREFIXES))]} {SITE_NAMES[rng.integers(len(SITE_NAMES))]}"
            sites.append((f"SITE-{i + 1:04d}", owners[owner_of_site[i]][0], f"{name} ({quartier})", commune, quartier,
                          round(lat, 6), round(lon, 6)))
            site_commune.append(commune)
            site_lat.append(lat)
            site_lon.append(lon)
            site_base.append(base)
        out.append(Table("sites", ("site_ref", "owner_ref", "name", "commune", "quartier", "lat", "lon"),
                         sites, len(sites)))

        # Units: tenants over the years = units x leases per unit (turnover grows with the years) x 0.97
        # (a few tenants rent two units); at least 2 units per site.
        leases_per_unit = 1 + 0.13 * (sc.years - 1.3)
        n_units = max(2 * sc.sites, round(sc.tenants / (0.97 * leases_per_unit)))
        per_site = 2 + rng.multinomial(n_units - 2 * sc.sites, rng.dirichlet(np.full(sc.sites, 2.0)))
        kinds_p = np.array([k[2] for k in UNIT_KINDS])
        units, unit_site, unit_rent = [], [], []
        uid = 0
        for s, count in enumerate(per_site):
            for j in range(count):
                label, factor, _ = UNIT_KINDS[rng.choice(len(UNIT_KINDS), p=kinds_p / kinds_p.sum())]
                rent = int(round(site_base[s] * factor * rng.uniform(0.8, 1.25) / 50_000) * 50_000)
                uid += 1
                units.append((f"UNIT-{uid:06d}", sites[s][0], f"{label} {chr(65 + j // 20)}{j % 20 + 1}", max(rent, 150_000)))
                unit_site.append(s)
                unit_rent.append(max(rent, 150_000))
        out.append(Table("units", ("unit_ref", "site_ref", "label", "monthly_rent"), units, len(units)))

        # Leases: each unit's timeline of tenancies with gaps; one tenant per lease, a few tenants rent two.
        start0, until = _days(self.start), _days(self.until)
        lease_unit, lease_start, lease_end, lease_rent, lease_due_day = [], [], [], [], []
        due_days, due_p = (1, 5, 10, 15, 30, 31), (0.6, 0.2, 0.1, 0.05, 0.03, 0.02)
        for u in range(len(units)):
            t = start0 + int(rng.integers(-120, 240))
            rent = unit_rent[u]
            while t < until - 20:
                open_ended = rng.random() < 0.55
                length = int(rng.integers(365, 365 * 4))
                end = None if open_ended or t + length >= until else t + length
                lease_unit.append(u)
                lease_start.append(t)
                lease_end.append(end)
                lease_rent.append(rent)
                lease_due_day.append(due_days[rng.choice(len(due_days), p=due_p)])
                if end is None:
                    break
                t = end + int(rng.integers(1, 100))
                rent = int(round(rent * rng.uniform(1.0, 1.12) / 50_000) * 50_000)
        n_leases = len(lease_unit)
        tenant_of_lease = np.arange(n_leases)
        shared = rng.random(n_leases) < 0.03
        tenant_of_lease[shared] = rng.integers(0, n_leases, shared.sum())
        tenant_ids, tenant_of_lease = np.unique(tenant_of_lease, return_inverse=True)
        tenants = []
        for i in range(len(tenant_ids)):
            name = self._person()
            email = self._email(name, i + 1) if rng.random() < 0.35 else None
            tenants.append((f"TEN-{i + 1:06d}", name, self._phone(), email))
        out.insert(2, Table("tenants", ("tenant_ref", "full_name", "phone", "email"), tenants, len(tenants)))
        leases = [
            (f"LEASE-{i + 1:06d}", units[lease_unit[i]][0], tenants[tenant_of_lease[i]][0],
             str(np.datetime64(lease_start[i], "D")),
             None if lease_end[i] is None else str(np.datetime64(lease_end[i], "D")),
             lease_rent[i], lease_due_day[i])
            for i in range(n_leases)
        ]
        out.append(Table("leases", ("lease_ref", "unit_ref", "tenant_ref", "start_date", "end_date",
                                    "monthly_rent", "due_day"), leases, n_leases))

        # Agents: zones are communes, every commune has at least one agent.
        agents, agent_zone = [], []
        for i in range(sc.agents):
            zone = communes[i] if i < len(communes) else communes[rng.choice(len(communes), p=weights / weights.sum())]
            agents.append((f"AGT-{i + 1:03d}", self._person(), self._phone(), zone, True))
            agent_zone.append(zone)
        out.insert(1, Table("agents", ("agent_ref", "full_name", "phone", "zone", "active"), agents, len(agents)))

        arrays = dict(
            start=np.array(lease_start, dtype=np.int64),
            end=np.array([until + 10_000 if e is None else e for e in lease_end], dtype=np.int64),
            rent=np.array(lease_rent, dtype=np.int64),
            due_day=np.array(lease_due_day, dtype=np.int64),
            site=np.array(unit_site, dtype=np.int64)[np.array(lease_unit, dtype=np.int64)],
        )
        behaviour = rng.choice(len(BEHAVIOURS), size=len(tenants), p=BEHAVIOUR_SHARES)[tenant_of_lease]
        agents_by_commune = {c: [i for i, z in enumerate(agent_zone) if z == c] for c in communes}
        site_agents = [agents_by_commune[site_commune[s]] for s in range(sc.sites)]

        payments, dues = self._payments(arrays, behaviour, leases, agents, site_agents)
        out.append(payments)
        out.extend(self._collection_history(arrays, dues, leases, agents, site_agents,
                                            np.array(site_lat), np.array(site_lon)))
        out.append(self._tracks(agents, agent_zone))
        return out

    @staticmethod
    def _pareto(n: int) -> np.ndarray:
        w = 1.0 / np.arange(1, n + 1) ** 0.8
        return w / w.sum()

    # -- payments -------------------------------------------------------------------------------------
    def _states(self, behaviour: np.ndarray, first: np.ndarray, n: np.ndarray, last: np.ndarray) -> np.ndarray:
        """Each due's hidden state (0..4, BEHAVIOURS' order), dues ordered by lease then month: the tenant's
        drawn behaviour at the lease's first due, then one step of TRANSITIONS a month. Tenants drawn as
        "stopped" pay like late payers until their stop month (1 to 18 months before the data's end) and
        pay nothing from then on."""
        rng = self.rng
        on_time, often_late, partial, stopped, ahead = range(5)
        stop_month = last - rng.integers(1, 19, size=len(n))
        drawn_stopped = behaviour == stopped
        current = np.where(drawn_stopped, often_late, behaviour)
        cumulative = np.cumsum(TRANSITIONS, axis=1)
        starts = np.cumsum(n) - n
        state = np.empty(int(n.sum()), dtype=np.int64)
        for k in range(int(n.max()) if n.size else 0):
            forced = drawn_stopped & (first + k >= stop_month)
            current = np.where(forced, stopped, current)
            has = n > k
            state[starts[has] + k] = current[has]
            u = rng.random(len(n))
            moved = (u[:, None] < cumulative[current]).argmax(axis=1)
            current = np.where(u < cumulative[current, -1], moved, current)
        return state

    def _payments(self, a: dict, behaviour: np.ndarray, leases: list, agents: list, site_agents: list
                  ) -> tuple[Table, dict]:
        rng = self.rng
        until = _days(self.until)
        first = first_due_month(a["start"], a["due_day"])
        # Dues up to a month after `until`: those paid ahead are in the data too.
        last = last_due_month(np.minimum(a["end"], until + 31), a["due_day"])
        n = np.maximum(0, last - first + 1)
        lease = np.repeat(np.arange(len(n)), n)
        offset = np.arange(lease.size) - np.repeat(np.cumsum(n) - n, n)
        mi = first[lease] + offset
        due = due_in_month(mi, a["due_day"][lease])
        rent = a["rent"][lease]
        b = self._states(behaviour, first, n, last)
        hard = hard_days(due)
        size = lease.size
        on_time, often_late, partial, stopped, ahead = range(5)
        delay = np.select(
            [b == on_time, b == often_late, b == partial, b == stopped, b == ahead],
            [rng.integers(-5, 1, size), rng.integers(3, 31, size), rng.integers(0, 21, size),
             rng.integers(0, 16, size), rng.integers(-25, -4, size)],
        )
        delay = delay + np.where((b == on_time) & (rng.random(size) < 0.04), rng.integers(3, 15, size), 0)
        good = (b == on_time) | (b == ahead)
        delay = np.where(good & hard & (rng.random(size) < HARD_LATE_SHARE), rng.integers(5, 26, size), delay)
        delay = delay + np.where((b == often_late) & hard, rng.integers(0, 11, size), 0)
        fraction = np.where(b == partial, rng.uniform(0.4, 0.9, size) * np.where(hard, HARD_PARTIAL_FACTOR, 1.0),
                            1.0)
        pays = np.ones(size, dtype=bool)
        skip = rng.random(size)
        pays &= ~((b == often_late) & (skip < 0.04 + np.where(hard, HARD_SKIP_SHARE, 0.0)))
        pays &= ~((b == on_time) & (skip < 0.01))
        pays &= ~(b == stopped)
        amount = (np.round(rent * fraction / 5_000) * 5_000).astype(np.int64)
        day = due + delay
        # Partial payers catch up on about a third of their months, 25 to 60 days later.
        catch = (b == partial) & pays & (rng.random(size) < 0.35)
        c_amount = rent[catch] - amount[catch]
        c_day = due[catch] + rng.integers(25, 61, catch.sum())
        lease_all = np.concatenate([lease[pays], lease[catch]])
        day_all = np.concatenate([day[pays], c_day])
        amount_all = np.concatenate([amount[pays], c_amount])
        keep = (day_all <= until) & (amount_all > 0)
        lease_all, day_all, amount_all = lease_all[keep], day_all[keep], amount_all[keep]
        order = np.lexsort((lease_all, day_all))
        lease_all, day_all, amount_all = lease_all[order], day_all[order], amount_all[order]
        seconds = day_all * 86_400 + rng.integers(7 * 3600, 20 * 3600, day_all.size)
        method = rng.choice(len(METHODS), size=day_all.size, p=METHOD_SHARES)
        # Recent cash payments are often collected by an agent of the site's commune.
        by_agent = (method == 0) & (day_all > until - 120) & (rng.random(day_all.size) < 0.6)
        sites_of = a["site"][lease_all]
        paid_at = _iso_times(seconds)
        lease_refs = [row[0] for row in leases]
        count = day_all.size

        def rows() -> Iterator[tuple]:
            for i in range(count):
                agent = None
                if by_agent[i]:
                    pool = site_agents[sites_of[i]]
                    agent = agents[pool[(i * 7919) % len(pool)]][0] if pool else None
                yield (f"PAY-{i + 1:08d}", lease_refs[lease_all[i]], paid_at[i], int(amount_all[i]),
                       METHODS[method[i]], agent)

        dues = dict(lease=lease, due=due, cum_due=(offset + 1) * rent, state=b,
                    pay_lease=lease_all, pay_day=day_all, pay_amount=amount_all)
        return (Table("payments", ("payment_ref", "lease_ref", "paid_at", "amount", "method", "agent_ref"),
                      rows(), count), dues)

    # -- calls, visits, promises ----------------------------------------------------------------------
    @staticmethod
    def _paid_by(dues: dict, day: np.ndarray) -> np.ndarray:
        """What each due's lease had paid by `day` (one day per due), from the generated payments."""
        span = np.int64(1 << 32)
        keys = dues["pay_lease"].astype(np.int64) * span + dues["pay_day"]
        order = np.argsort(keys, kind="stable")
        keys, cum = keys[order], np.concatenate([[0], np.cumsum(dues["pay_amount"][order])])
        lease = dues["lease"].astype(np.int64)
        upto = np.searchsorted(keys, lease * span + day, side="right")
        before = np.searchsorted(keys, lease * span, side="left")
        return cum[upto] - cum[before]

    def _collection_history(self, a, dues, leases, agents, site_agents, site_lat, site_lon) -> list[Table]:
        """Calls and visits on every due still unpaid five days after its date (FIFO: the lease's payments
        do not cover its dues so far), in the 35 days that follow, over the whole history; a call or visit
        ending in a promise adds a promise of the arrears (one to two months' rent, sometimes half of it) within 3 to 21 days.
        Tenants who have stopped paying answer less and refuse more; nothing else of the hidden state
        shows. Whether a promise is kept is left to the payments (the promises read decides)."""
        rng = self.rng
        until = _days(self.until)
        check = dues["due"] + 5
        behind = (check < until) & (self._paid_by(dues, check) < dues["cum_due"])
        idx = np.flatnonzero(behind)
        arrears = dues["cum_due"][idx] - self._paid_by(dues, check)[idx]
        events = []
        for kind, mean in (("call", CALLS_PER_LATE_DUE), ("visit", VISITS_PER_LATE_DUE)):
            count = rng.poisson(mean, idx.size)
            which = np.repeat(np.arange(idx.size), count)
            day = check[idx][which] + rng.integers(0, 35, which.size)
            ok = day < until
            which, day = which[ok], day[ok]
            day = day - ((day + 3) % 7 == 6)  # no Sunday (1970-01-01 was a Thursday)
            events.append((kind, which, day))
        calls, visits, promises = [], [], []
        for kind, which, day in events:
            order = np.lexsort((which, day))
            which, day = which[order], day[order]
            seconds = day * 86_400 + rng.integers(8 * 3600, 17 * 3600, day.size)
            dues_i = idx[which]
            lease_i = dues["lease"][dues_i]
            stopped = dues["state"][dues_i] == 3
            outcomes, shares = (CALL_OUTCOMES, CALL_SHARES) if kind == "call" else (VISIT_OUTCOMES, VISIT_SHARES)
            shares = np.array(shares)
            evasive = np.array([o in ("no_answer", "absent", "refused") for o in outcomes])
            shy = np.where(evasive, shares * 1.8, shares * 0.6)
            outcome = np.where(stopped,
                               rng.choice(len(outcomes), size=day.size, p=shy / shy.sum()),
                               rng.choice(len(outcomes), size=day.size, p=shares))
            pick = rng.integers(0, 1 << 30, day.size)
            far = rng.random(day.size) < 0.06
            noise = rng.normal(0, 1, (day.size, 2))
            accuracy = rng.uniform(4, 30, day.size)
            promise_days = rng.integers(3, 22, day.size)
            promise_share = rng.choice([0.5, 1.0, 1.0, 1.0], size=day.size)
            text = _iso_times(seconds)
            for j in range(day.size):
                li = int(lease_i[j])
                site = a["site"][li]
                pool = site_agents[site]
                if not pool:
                    continue
                lease_ref = leases[li][0]
                agent = agents[pool[int(pick[j]) % len(pool)]][0]
                name = outcomes[outcome[j]]
                if kind == "call":
                    calls.append((f"CALL-{len(calls) + 1:07d}", lease_ref, agent, text[j], name))
                else:
                    spread = 0.012 if far[j] else 0.00015
                    lat = site_lat[site] + noise[j, 0] * spread
                    lon = site_lon[site] + noise[j, 1] * spread
                    distance = float(haversine_m(site_lat[site], site_lon[site], lat, lon))
                    visits.append((f"VIS-{len(visits) + 1:07d}", lease_ref, agent, text[j], name,
                                   round(lat, 6), round(lon, 6), round(float(accuracy[j]), 1), round(distance, 1)))
                if name == "promise":
                    rent = int(a["rent"][li])
                    owed = min(max(int(arrears[which[j]]), rent), 2 * rent)
                    amount = max(5_000, int(round(owed * promise_share[j] / 5_000) * 5_000))
                    promises.append((int(seconds[j]), lease_ref, agent, text[j],
                                     str(np.datetime64(int(day[j] + promise_days[j]), "D")), amount))
        promises.sort(key=lambda p: (p[0], p[1]))
        promises = [(f"PROM-{i + 1:06d}",) + p[1:] for i, p in enumerate(promises)]
        return [
            Table("promises", ("promise_ref", "lease_ref", "agent_ref", "created_at", "due_date", "amount"),
                  promises, len(promises)),
            Table("calls", ("call_ref", "lease_ref", "agent_ref", "called_at", "outcome"), calls, len(calls)),
            Table("visits", ("visit_ref", "lease_ref", "agent_ref", "visited_at", "outcome", "lat", "lon",
                             "accuracy_m", "distance_m"), visits, len(visits)),
        ]

    # -- GPS tracks -----------------------------------------------------------------------------------
    def _tracks(self, agents: list, agent_zone: list) -> Table:
        """Each agent's last 10 working days: a fix every 5 minutes from 08:00 to 17:00 along a walk
        between a few points of his commune."""
        rng = self.rng
        until = _days(self.until)
        days = [d for d in range(until - 14, until) if (d + 3) % 7 < 6][-10:]
        rows: list[tuple] = []
        steps = np.arange(8 * 3600, 17 * 3600 + 1, 300)
        for ai, agent in enumerate(agents):
            quartiers = COMMUNES[agent_zone[ai]][1]
            for day in days:
                stops = [quartiers[rng.integers(len(quartiers))] for _ in range(5)]
                lat = np.interp(np.linspace(0, 4, steps.size), np.arange(5), [s[1] for s in stops])
                lon = np.interp(np.linspace(0, 4, steps.size), np.arange(5), [s[2] for s in stops])
                lat = lat + rng.normal(0, 0.0004, steps.size)
                lon = lon + rng.normal(0, 0.0004, steps.size)
                battery = np.clip(100 - np.arange(steps.size) * rng.uniform(0.4, 0.7), 5, 100).astype(int)
                times = _iso_times(day * 86_400 + steps)
                accuracy = rng.uniform(4, 25, steps.size)
                for k in range(steps.size):
                    rows.append((agent[0], times[k], round(float(lat[k]), 6), round(float(lon[k]), 6),
                                 round(float(accuracy[k]), 1), int(battery[k])))
        return Table("agent_positions", ("agent_ref", "t", "lat", "lon", "accuracy_m", "battery"), rows, len(rows))

"""How much will come in: expected collections for the rest of the current month and each of the next three
months, per site and per owner, with an 80 % interval, by Monte-Carlo simulation from each lease's
probability that its due is not paid in full within 30 days (the 30-day model).

Why simulate rather than add means and variances: an owner has a few dozen dues a month, each paid or not
(nearly all or nothing), of very different sizes (a shop's rent is ten flats'), and a lease late this month
is likely late next month too. The sum of such a handful of lopsided, correlated Bernoulli amounts is
skewed and lumpy; a normal approximation gives intervals that are too narrow and symmetric where the
money is not. Drawing the dues (2,000 draws) gives the distribution as it is, and the interval's bounds
are its 10th and 90th percentiles.

The model of one due: with probability 1 - p (p: the lease's 30-day risk) the rent comes in during the
due's month; otherwise, on average, a share g of it does (payments of late tenants, partial payments,
catch-ups on older arrears), g being what the scope's late dues actually brought in over a recent month:
    g = (collected - dues paid within 30 days) / dues not paid within 30 days, for each month -7 .. -2;
each simulated month draws one of those g (a bad month hits all of an owner's leases at once), and each late lease
then pays all (rent x max(g, 1)) or nothing, with probability min(g, 1).
A lease keeps its state from month to month with probability PERSISTENCE (a tenant late this month is
likely late next month), otherwise it is drawn afresh. Each owner's month is then multiplied by a shock of
mean 1 whose spread is his collection rate's recent swing (owner_spreads): without it the 80 % intervals
held the actual in only about 64 % of the backtest's owner-months. Every month after the next due uses the next due's
probability (the model predicts one due ahead). New leases and leases ending are not foreseen.
"""

from __future__ import annotations

import datetime as dt
import zlib

import numpy as np
import pandas as pd

from akig_data.risk.features import month_idx, month_start

SIMULATIONS = 2_000
PERSISTENCE = 0.7
MONTHS_AHEAD = 3
DEFAULT_LATE_SHARE = 0.5


def late_shares(due_outcomes: pd.DataFrame, site_months: pd.DataFrame) -> np.ndarray:
    """g of each recent month: the share of the late dues' rent that came in during the month (see above).
    due_outcomes: lease_ref, due_date, amount, late_30 (known); site_months: mi, collected."""
    return late_shares_by(due_outcomes.assign(_scope=0), site_months.assign(_scope=0), "_scope").get(
        0, np.array([DEFAULT_LATE_SHARE]))


def late_shares_by(due_outcomes: pd.DataFrame, site_months: pd.DataFrame, key: str) -> dict[object, np.ndarray]:
    """late_shares() of each value of the column `key` of both frames (each owner's own, for his forecast
    alone), in one pass: the months in order, for each month with late dues and collections; a value without
    any has none here (its forecast takes DEFAULT_LATE_SHARE)."""
    known = due_outcomes[due_outcomes["late_30"].notna()]
    if known.empty or site_months.empty:
        return {}
    amount = known["amount"].astype(float)
    dues = pd.DataFrame({
        key: known[key].to_numpy(), "mi": (known["due_date"].dt.year * 12 + known["due_date"].dt.month - 1).to_numpy(),
        "late": amount.where(known["late_30"] == 1, 0.0).to_numpy(),
        "on_track": amount.where(known["late_30"] == 0, 0.0).to_numpy()})
    months = dues.groupby([key, "mi"], sort=True)[["late", "on_track"]].sum()
    collected = site_months.groupby([key, "mi"])["collected"].sum()
    months = months.join(collected, how="inner")
    months = months[months["late"] > 0]
    shares = ((months["collected"] - months["on_track"]) / months["late"]).clip(0.0, 1.5)
    return {value: group.to_numpy(dtype=float) for value, group in shares.groupby(level=0, sort=False)}


def owner_spreads(site_months: pd.DataFrame) -> dict[str, float]:
    """Each owner's month-to-month swing of his collection rate over the recent months given (site_months:
    owner_ref, mi, due, collected): the standard deviation of collected / due relative to its mean, 0 with
    fewer than three months. What a month brings in moves by more than its leases' draws say (catch-ups,
    a few large payments early or late); simulate() adds that swing as one shock per owner and month."""
    if site_months.empty:
        return {}
    months = site_months.groupby(["owner_ref", "mi"])[["due", "collected"]].sum()
    months = months[months["due"] > 0]
    rates = (months["collected"] / months["due"]).groupby(level="owner_ref")
    spread = rates.std(ddof=1) / rates.mean()
    counts = rates.size()
    return {owner: float(v) for owner, v in spread.items() if counts[owner] >= 3 and np.isfinite(v)}


def simulate(leases: pd.DataFrame, as_of: dt.date, g: np.ndarray | dict, months_ahead: int = MONTHS_AHEAD,
             simulations: int = SIMULATIONS, seed: int = 0, spreads: dict[str, float] | None = None) -> pd.DataFrame:
    """leases: owner_ref, site_ref, rent, next_due_date, p_late_30 (one row per running lease).
    Returns one row per (owner, site, month) and per (owner, month) with site_ref NULL: expected, low_80,
    high_80 (GNF) and the dues of the period. g: the recent months' late shares of the scope, or a dict of
    each owner's own (an owner missing from it takes DEFAULT_LATE_SHARE), to forecast every owner as if alone.

    Owner by owner, each with a random stream of his own (from `seed` and his reference): no output row sums
    across owners, so their draws need not share arrays. One array of draws over every lease at once was
    2,000 draws x 68,797 leases (a gigabyte) per step at `large` scale, and the forecast for every owner
    took 32 s of simulation; owner by owner the arrays fit in the processor's cache. An owner's figures are
    also the same whether he is forecast alone or with every other owner."""
    columns = ["owner_ref", "site_ref", "month", "period", "dues", "expected", "low_80", "high_80"]
    if leases.empty:
        return pd.DataFrame(columns=columns)
    shares = g if isinstance(g, dict) else None
    g = None if shares is not None else np.atleast_1d(np.asarray(g, dtype=float))
    leases = leases.sort_values(["owner_ref", "site_ref"]).reset_index(drop=True)
    # The leases' columns as arrays once, each owner's a slice of them (a pandas group per owner cost about
    # a millisecond each, a second for the 500 owners at `large` scale).
    owners, site_refs = leases["owner_ref"].to_numpy(), leases["site_ref"].to_numpy()
    rent = leases["rent"].to_numpy(dtype=float)
    p = np.clip(leases["p_late_30"].to_numpy(dtype=float), 0.0, 1.0)
    due_dates = pd.to_datetime(leases["next_due_date"])
    next_mi = (due_dates.dt.year * 12 + due_dates.dt.month - 1).to_numpy()
    bounds = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1], True])
    rows: list[tuple] = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        owner = owners[lo]
        rng = np.random.default_rng([seed, zlib.crc32(str(owner).encode("utf-8"))])
        g_owner = g if shares is None else np.atleast_1d(np.asarray(shares.get(owner, [DEFAULT_LATE_SHARE]), dtype=float))
        rows.extend(_owner_rows(owner, site_refs[lo:hi], rent[lo:hi], p[lo:hi], next_mi[lo:hi], as_of, g_owner,
                                months_ahead, simulations, rng, (spreads or {}).get(owner, 0.0)))
    out = pd.DataFrame(rows, columns=columns)
    # Month by month, the sites (by owner and site) and then the owners.
    order = out.assign(_owner_row=out["site_ref"].isna()).sort_values(
        ["month", "_owner_row", "owner_ref", "site_ref"], kind="stable").index
    return out.loc[order].reset_index(drop=True)


# Simulations are drawn in blocks of about this many (simulation, lease) cells, so that a block's arrays stay
# in the processor's cache through every step of every month (an owner with 3,567 leases is 7 million cells).
BLOCK_CELLS = 1 << 16


def _owner_rows(owner, site_refs: np.ndarray, rent: np.ndarray, p: np.ndarray, next_mi: np.ndarray, as_of: dt.date,
                g: np.ndarray, months_ahead: int, simulations: int, rng: np.random.Generator,
                spread: float) -> list[tuple]:
    """One owner's rows of simulate(): his leases (sorted by site: their site, rent, 30-day risk and the month
    index of their next due) drawn `simulations` times."""
    first_mi = month_idx(as_of)
    site_start = np.flatnonzero(np.r_[True, site_refs[1:] != site_refs[:-1]])
    sites = site_refs[site_start]
    months = [first_mi + k for k in range(months_ahead + 1)]
    # The rest of this month: the leases whose next due falls in it; later months: every running lease.
    owed = [np.where(next_mi <= mi, rent, 0.0) for mi in months]
    # The month's g is drawn among the recent months' (a bad month is bad for all of the owner's leases):
    # the common swing that independent leases alone would leave out of the interval.
    g_draw = rng.choice(g, size=(simulations, 1))
    per_site = _draw_sites(rng, p, g_draw, owed, site_start, simulations)
    rows = []
    for k, mi in enumerate(months):
        by_site = per_site[k]
        if spread:   # the owner's month swing: one shock per simulated month, mean 1
            by_site = by_site * np.clip(1 + rng.standard_normal((simulations, 1)) * spread, 0.0, None)
        draws = np.ascontiguousarray(np.column_stack([by_site, by_site.sum(axis=1)]).T)   # (sites + 1) x draws
        lows, highs = np.percentile(draws, [10, 90], axis=1)
        means = draws.mean(axis=1)
        dues_site = np.add.reduceat(owed[k], site_start)
        label = "reste du mois" if k == 0 else month_start(mi).strftime("%Y-%m")
        for j, site in enumerate(sites):
            rows.append(_row(owner, site, mi, label, dues_site[j], means[j], lows[j], highs[j]))
        rows.append(_row(owner, None, mi, label, dues_site.sum(), means[-1], lows[-1], highs[-1]))
    return rows


def _draw_sites(rng: np.random.Generator, p: np.ndarray, g_draw: np.ndarray, owed: list[np.ndarray],
                site_start: np.ndarray, simulations: int) -> list[np.ndarray]:
    """What each site collects in each simulated month: one (simulations x sites) array per month.

    A lease's state is whether it is late: at first with probability p; each later month it keeps it when a
    uniform v < PERSISTENCE, and is otherwise drawn afresh, late when (v - PERSISTENCE) / (1 - PERSISTENCE),
    itself uniform, is >= 1 - p, that is when v >= PERSISTENCE + (1 - PERSISTENCE)(1 - p). A late lease then
    pays, this month, its due x max(g, 1) with probability min(g, 1), and nothing otherwise; a lease on time
    pays its due.

    Why it is written so: the uniforms are 16-bit integers cut from the generator's raw 64-bit words (four a
    word), compared with the probabilities in 65,536ths (an event of probability q happens when the draw is
    below round(q x 65,536), so a probability is off by less than 1 / 131,072, far below what 2,000 draws can
    tell); the shares are single precision and summed per site in double precision; and the simulations are
    drawn in blocks that stay in the processor's cache through every month. At `large` scale, every owner,
    that is about 2 s instead of 12 s for whole-array steps on double-precision uniforms."""
    n = len(p)
    on_time_below = _in_65536ths(1 - p)[None, :]
    keep_below = _in_65536ths(PERSISTENCE)
    # afresh: late when v >= keep + (1 - PERSISTENCE)(1 - p), in the same units
    fresh_on_time_below = (keep_below + _in_65536ths((1 - PERSISTENCE) * (1 - p)))[None, :]
    owed32 = [o.astype(np.float32) for o in owed]
    out = [np.empty((simulations, len(site_start))) for _ in owed]
    block = max(1, BLOCK_CELLS // max(n, 1))
    for lo in range(0, simulations, block):
        hi = min(simulations, lo + block)
        shape = (hi - lo, n)
        catch_up = np.maximum(g_draw[lo:hi], 1.0).astype(np.float32)
        pays_below = _in_65536ths(np.minimum(g_draw[lo:hi], 1.0))
        late = _uniform16(rng, shape) >= on_time_below
        for k, amounts in enumerate(owed32):
            if k > 0:
                v = _uniform16(rng, shape)
                late = (late & (v < keep_below)) | (v >= fresh_on_time_below)
            # the share of its due each lease pays: 1 on time; late, max(g, 1) with probability min(g, 1), else 0
            share = (_uniform16(rng, shape) < pays_below) * catch_up
            share -= 1
            share *= late
            share += 1
            share *= amounts
            out[k][lo:hi] = np.add.reduceat(share, site_start, axis=1, dtype=np.float64)
    return out


def _in_65536ths(q) -> np.ndarray:
    """A probability (or an array of them) as a bound for 16-bit draws: round(q x 65,536), 0 to 65,536."""
    return np.rint(np.clip(np.asarray(q, dtype=float), 0.0, 1.0) * 65536).astype(np.uint32)


def _uniform16(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Uniform integers 0..65,535: the generator's raw 64-bit words, each cut into four."""
    cells = shape[0] * shape[1]
    return rng.bit_generator.random_raw((cells + 3) // 4).view(np.uint16)[:cells].reshape(shape)


def _row(owner_ref, site_ref, mi, label, dues, mean, low, high) -> tuple:
    # Rounded to the franc; the bounds are widened by rounding so that low <= expected <= high always holds.
    return (owner_ref, site_ref, month_start(mi), label, int(round(dues)), int(round(mean)),
            int(min(np.floor(low), np.floor(mean))), int(max(np.ceil(high), np.ceil(mean))))

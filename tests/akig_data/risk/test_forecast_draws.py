"""The cash forecast's draws (akig_data/risk/forecast.py) follow the model its docstring states: each lease
late with its probability p, keeping its state from month to month with probability PERSISTENCE and drawn
afresh otherwise, a late lease paying its due x max(g, 1) with probability min(g, 1). Checked on the draws
themselves, one lease per site, against the probabilities worked out by hand."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from akig_data.risk import forecast

RENT = 1_000_000.0


def _draws(p, g, months=2, simulations=20_000, seed=7):
    """Each lease's payment in each month: (months, simulations, leases), one lease per site."""
    p = np.asarray(p, dtype=float)
    g_draw = np.full((simulations, 1), g)
    owed = [np.full(len(p), RENT) for _ in range(months)]
    out = forecast._draw_sites(np.random.default_rng(seed), p, g_draw, owed, np.arange(len(p)), simulations)
    return np.stack(out)


def test_a_lease_is_late_with_its_probability_and_keeps_its_state_as_the_model_says():
    p = np.array([0.0, 0.1, 0.35, 0.8, 1.0])
    paid = _draws(p, g=0.0)                       # g = 0: a late lease pays nothing, so unpaid means late
    assert set(np.unique(paid)) <= {0.0, RENT}
    late = paid == 0
    assert not late[:, :, 0].any()                # never late at p = 0, in any month
    assert late[:, :, 4].all()                    # always late at p = 1
    tol = 4 * np.sqrt(0.25 / late.shape[1])       # four standard errors of a share of 20,000 draws
    assert late[0].mean(axis=0) == pytest.approx(p, abs=tol)
    assert late[1].mean(axis=0) == pytest.approx(p, abs=tol)
    P = forecast.PERSISTENCE
    for j in (1, 2, 3):
        stays_late = late[1, late[0, :, j], j].mean()
        becomes_late = late[1, ~late[0, :, j], j].mean()
        assert stays_late == pytest.approx(P + (1 - P) * p[j], abs=2 * tol)
        assert becomes_late == pytest.approx((1 - P) * p[j], abs=2 * tol)


def test_a_late_lease_pays_its_catch_up_with_probability_min_g_1():
    p = np.array([1.0, 1.0])
    partly = _draws(p, g=0.3, months=1)[0]
    assert set(np.unique(partly)) == {0.0, RENT}
    assert (partly == RENT).mean() == pytest.approx(0.3, abs=0.015)
    more = _draws(p, g=1.25, months=1)[0]     # every late lease pays, and pays a quarter of a month more
    assert np.unique(more) == pytest.approx([1.25 * RENT])


def test_the_forecast_of_independent_leases_has_the_expected_mean():
    """Forty leases in one site, risk 0.3, g 0.5: each due brings in rent x (0.7 + 0.3 x 0.5) on average."""
    leases = pd.DataFrame({"owner_ref": ["A"] * 40, "site_ref": ["S1"] * 40, "rent": [RENT] * 40,
                           "next_due_date": [dt.date(2026, 7, 5)] * 40, "p_late_30": [0.3] * 40})
    out = forecast.simulate(leases, dt.date(2026, 7, 1), [0.5], months_ahead=1)
    owner = out[out["site_ref"].isna()]
    assert owner["dues"].tolist() == [40 * RENT, 40 * RENT]
    assert owner["expected"].to_numpy() == pytest.approx(40 * RENT * 0.85, rel=0.01)
    assert (owner["low_80"] < owner["expected"]).all() and (owner["expected"] < owner["high_80"]).all()
    again = forecast.simulate(leases, dt.date(2026, 7, 1), [0.5], months_ahead=1)
    assert again.equals(out)                      # the same figures for the same leases and day

"""The route solver's exact path (Held–Karp) against brute force on small instances, and which path
`solve` takes: exact up to EXACT_MAX_STOPS stops, OR-Tools' time-limited search above."""

from __future__ import annotations

import itertools
import random

import pytest

from akig_data.planning import solver


def _instance(seed: int, n: int):
    rng = random.Random(seed)
    start = (9.50 + rng.random() * 0.1, -13.70 + rng.random() * 0.1)
    stops = [solver.Stop(f"s{i}", 9.50 + rng.random() * 0.1, -13.70 + rng.random() * 0.1, rng.randint(0, 500))
             for i in range(n)]
    return start, stops


def _brute_force(start, stops, day_minutes):
    """The model's objective over every subset in every order: metres driven + penalties of the dropped,
    with the day (arrival minutes + 15 per visit, the last included) within `day_minutes`."""
    matrix = solver._matrix(start, stops)
    penalty = solver._drop_penalties(stops)
    best = sum(penalty)
    for size in range(1, len(stops) + 1):
        for order in itertools.permutations(range(len(stops)), size):
            metres, minutes, here = 0, 0, 0
            for i in order:
                metres += matrix[here][i + 1]
                minutes += solver._minutes(matrix[here][i + 1]) + solver.VISIT_MINUTES
                here = i + 1
            if minutes <= day_minutes:
                best = min(best, metres + sum(p for i, p in enumerate(penalty) if i not in order))
    return best


@pytest.mark.parametrize("seed", range(12))
def test_the_exact_path_matches_brute_force_when_every_stop_fits(seed):
    start, stops = _instance(seed, 1 + seed % 7)
    route = solver.solve_exact(start, stops, day_minutes=7 * 24 * 60)
    assert route.dropped == [] and sorted(route.order) == sorted(s.key for s in stops)
    assert solver.route_cost(stops, route) == _brute_force(start, stops, 7 * 24 * 60)
    assert route.distance_m == pytest.approx(sum(route.legs_m))


@pytest.mark.parametrize("seed", range(3))
def test_eight_stops_without_a_day_cut_match_every_order(seed):
    """With no day cut every stop is kept, so brute force is every order of all the stops (8! of them)."""
    start, stops = _instance(50 + seed, 8)
    matrix = solver._matrix(start, stops)
    best = min(sum(matrix[a][b + 1] for a, b in zip((0,) + tuple(i + 1 for i in order), order))
               for order in itertools.permutations(range(8)))
    route = solver.solve(start, stops, day_minutes=7 * 24 * 60)
    assert route.dropped == [] and route.distance_m == best


@pytest.mark.parametrize("seed, day", [(s, d) for s in range(6) for d in (20, 45, 70, 100)])
def test_the_exact_path_matches_brute_force_when_the_day_is_short(seed, day):
    start, stops = _instance(100 + seed, 6)
    route = solver.solve_exact(start, stops, day_minutes=day)
    assert solver.route_cost(stops, route) == _brute_force(start, stops, day)
    assert len(route.order) + len(route.dropped) == len(stops)
    if route.order:
        assert route.arrivals_min[-1] + solver.VISIT_MINUTES <= day


def test_the_exact_path_is_never_worse_than_or_tools():
    start, stops = _instance(7, solver.EXACT_MAX_STOPS)
    for day in (90, 180, solver.DAY_MINUTES):
        exact = solver.solve_exact(start, stops, day_minutes=day)
        search = solver.solve_search(start, stops, time_limit_s=0.2, day_minutes=day)
        assert solver.route_cost(stops, exact) <= solver.route_cost(stops, search)


@pytest.mark.parametrize("n, path", [(1, "exact"), (5, "exact"), (solver.EXACT_MAX_STOPS, "exact"),
                                     (solver.EXACT_MAX_STOPS + 1, "search"), (30, "search"), (80, "search")])
def test_small_problems_take_the_exact_path_and_large_ones_the_search(monkeypatch, n, path):
    calls = []
    real_exact = solver.solve_exact
    monkeypatch.setattr(solver, "solve_exact", lambda *a, **k: calls.append("exact") or real_exact(*a, **k))
    monkeypatch.setattr(solver, "solve_search", lambda *a, **k: calls.append("search") or "searched")
    start, stops = _instance(n, n)
    route = solver.solve(start, stops, time_limit_s=0.1)
    assert calls == [path]
    assert (route == "searched") == (path == "search")


def test_an_overrun_day_uses_labels_up_to_their_size_and_the_search_above(monkeypatch):
    start, stops = _instance(3, solver.LABELS_MAX_STOPS + 1)
    assert solver.solve_exact(start, stops, day_minutes=90, labels=False) is None  # shortest order overruns
    calls = []
    monkeypatch.setattr(solver, "solve_search", lambda *a, **k: calls.append("search") or "searched")
    assert solver.solve(start, stops, day_minutes=90) == "searched" and calls == ["search"]
    route = solver.solve(start, stops[:solver.LABELS_MAX_STOPS], day_minutes=90)
    assert calls == ["search"] and route.dropped and route.arrivals_min[-1] + solver.VISIT_MINUTES <= 90


def test_no_stops_is_an_empty_route_on_both_paths():
    assert solver.solve_exact((9.5, -13.7), []).order == []
    assert solver.solve_search((9.5, -13.7), []).order == []

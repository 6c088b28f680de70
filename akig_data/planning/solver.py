"""Putting one agent's visits of the day in route order (exact for a few stops, OR-Tools' routing library
above).

We have no road network offline, so a leg is the great-circle distance times a detour factor (1.3:
Conakry's streets are far from straight lines), driven at an average moto speed. The working day is a
time dimension (08:00–17:00 by default, 15 minutes per visit): visits that do not fit are dropped,
the least valuable first (each visit is optional, with a penalty far above any detour that grows with
its priority). Two baselines are kept for bench/routing.py: nearest neighbour and the order given.

Two ways to the same model. A small problem is solved exactly (`solve_exact`: Held–Karp dynamic
programming over the set of stops visited and the last one, on the same matrix and objective — the metres
driven plus the penalty of each stop dropped — under the same day's length): milliseconds, and optimal.
A larger one goes to OR-Tools' guided local search, which runs to its time limit (a heuristic: the exact
method grows as 2^n · n²). The sizes are EXACT_MAX_STOPS and LABELS_MAX_STOPS below.
"""

from __future__ import annotations

import gc
import math
import random
from dataclasses import dataclass

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

DETOUR = 1.3
SPEED_KMH = 18.0          # average moto speed in Conakry traffic
VISIT_MINUTES = 15
DAY_MINUTES = 9 * 60      # 08:00-17:00
DROP_COST = 100_000_000   # metres-equivalent: far above any day's driving
EXACT_MAX_STOPS = 12      # up to this many stops, Held–Karp on the metres (exact; a few ms) ...
LABELS_MAX_STOPS = 10     # ... and, when the shortest order overruns the day, (metres, minutes) labels up to this


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(a))


@dataclass(frozen=True)
class Stop:
    key: object          # the caller's id (a mission candidate)
    lat: float
    lon: float
    priority: int = 1    # penalty for dropping it (GNF of expected recovery)


@dataclass(frozen=True)
class Route:
    order: list[object]              # stop keys in visiting order
    legs_m: list[float]              # road-estimated metres from the previous point (start first)
    arrivals_min: list[int]          # minutes after the start of the day
    dropped: list[object]            # stops that did not fit in the day
    distance_m: float


def _matrix(start: tuple[float, float], stops: list[Stop]) -> list[list[int]]:
    points = [start] + [(s.lat, s.lon) for s in stops]
    return [[int(haversine_m(a[0], a[1], b[0], b[1]) * DETOUR) for b in points] for a in points]


def _minutes(metres: float) -> int:
    return int(round(metres / 1000 / SPEED_KMH * 60))


def _route_from_order(start, stops: list[Stop], order: list[int], matrix, dropped: list[object]) -> Route:
    legs, arrivals, clock, here = [], [], 0, 0
    for index in order:
        leg = matrix[here][index + 1]
        clock += _minutes(leg)
        legs.append(float(leg))
        arrivals.append(clock)
        clock += VISIT_MINUTES
        here = index + 1
    return Route([stops[i].key for i in order], legs, arrivals, dropped, float(sum(legs)))


def _drop_penalties(stops: list[Stop]) -> list[int]:
    # Dropping a stop costs more than any detour (100 km), and more for a more valuable stop (up to 2x),
    # so stops are dropped only when the day is too short, the least valuable first.
    top = max(max(s.priority for s in stops), 1)
    return [DROP_COST + int(DROP_COST * max(stop.priority, 0) / top) for stop in stops]


def route_cost(stops: list[Stop], route: Route) -> float:
    """The objective both methods minimise: the metres driven plus the penalty of each stop dropped."""
    penalty = _drop_penalties(stops) if stops else []
    dropped = set(route.dropped)
    return route.distance_m + sum(p for s, p in zip(stops, penalty) if s.key in dropped)


def solve(start: tuple[float, float], stops: list[Stop], time_limit_s: float = 0.5,
          day_minutes: int = DAY_MINUTES) -> Route:
    """The best open tour from `start` through the stops that fit in the day (no return to start).

    Exact (`solve_exact`) for a small problem; OR-Tools' search for `time_limit_s` (`solve_search`)
    for a larger one, or when the exact method would need its slow form (see `solve_exact`)."""
    if not stops:
        return Route([], [], [], [], 0.0)
    if len(stops) <= EXACT_MAX_STOPS:
        route = solve_exact(start, stops, day_minutes, labels=len(stops) <= LABELS_MAX_STOPS)
        if route is not None:
            return route
    return solve_search(start, stops, time_limit_s, day_minutes)


def solve_exact(start: tuple[float, float], stops: list[Stop], day_minutes: int = DAY_MINUTES,
                labels: bool = True) -> Route | None:
    """The optimum of the OR-Tools model below, by Held–Karp dynamic programming over (stops visited,
    last stop): an open path from the start, each leg costing its metres and taking its minutes plus the
    visit's 15, the whole (last visit included) within `day_minutes`; a stop left out costs its penalty.

    First the shortest path through every stop (numpy, one layer of subsets at a time). If it fits in
    the day, it is optimal: any dropped stop costs more than all the driving. Otherwise, with `labels`,
    every (subset, last stop) keeps its Pareto set of (metres, minutes) and the best of subsets and
    penalties is taken (pure Python, fine up to about ten stops); without, None."""
    if not stops:
        return Route([], [], [], [], 0.0)
    matrix = _matrix(start, stops)
    order = _shortest_through_all(matrix, len(stops))
    minutes = sum(_minutes(matrix[a][b + 1]) + VISIT_MINUTES for a, b in zip([0] + [i + 1 for i in order], order))
    if minutes <= day_minutes:
        return _route_from_order(start, stops, order, matrix, [])
    if not labels:
        return None
    # The labels are tens of thousands of small tuples: a collection of the whole heap triggered by them
    # would cost more than the search itself (up to 100 ms measured), and they hold no cycles.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _best_with_labels(start, stops, matrix, day_minutes)
    finally:
        if collecting:
            gc.enable()


def _shortest_through_all(matrix: list[list[int]], n: int) -> list[int]:
    """Held–Karp: the stops' order (indices 0..n-1) of the shortest open path from point 0 of `matrix`."""
    dist = np.asarray(matrix, dtype=np.int64)
    if n == 1:
        return [0]
    big = np.int64(1) << 50
    masks = np.arange(1 << n)
    sizes = np.zeros(1 << n, dtype=np.int64)
    for k in range(n):
        sizes += (masks >> k) & 1
    best = np.full((1 << n, n), big, dtype=np.int64)
    came = np.zeros((1 << n, n), dtype=np.int8)
    singles = 1 << np.arange(n)
    best[singles, np.arange(n)] = dist[0, 1:]
    legs = dist[1:, 1:]                                   # legs[j, k]: stop j -> stop k
    for size in range(2, n + 1):
        layer = masks[sizes == size]
        for k in range(n):
            with_k = layer[(layer >> k) & 1 == 1]
            cand = best[with_k ^ (1 << k)] + legs[:, k]      # best[prev, j] + leg j -> k (j = k is `big`)
            pick = cand.argmin(axis=1)
            best[with_k, k] = cand[np.arange(len(with_k)), pick]
            came[with_k, k] = pick
    mask, last = (1 << n) - 1, int(best[(1 << n) - 1].argmin())
    order = []
    while True:
        order.append(last)
        if mask == 1 << last:
            break
        mask, last = mask ^ (1 << last), int(came[mask, last])
    return order[::-1]


def _best_with_labels(start, stops: list[Stop], matrix, day_minutes: int) -> Route:
    n = len(stops)
    dist = [[matrix[a][b + 1] for b in range(n)] for a in range(n + 1)]   # dist[a][b]: point a -> stop b
    mins = [[_minutes(dist[a][b]) + VISIT_MINUTES for b in range(n)] for a in range(n + 1)]
    penalty = _drop_penalties(stops)
    full = (1 << n) - 1
    # labels[mask][j]: (metres, minutes, previous stop or -1, index of its label there), none dominated
    labels: list[list[list[tuple[int, int, int, int]]]] = [[[] for _ in range(n)] for _ in range(1 << n)]
    for j in range(n):
        if mins[0][j] <= day_minutes:
            labels[1 << j][j].append((dist[0][j], mins[0][j], -1, -1))
    for mask in range(1, full + 1):
        row = labels[mask]
        for j in range(n):
            here = row[j]
            if not here:
                continue
            dj, mj = dist[j + 1], mins[j + 1]
            for k in range(n):
                bit = 1 << k
                if mask & bit:
                    continue
                there = labels[mask | bit][k]
                for index, (metres, minutes, _, _) in enumerate(here):
                    new_m, new_t = metres + dj[k], minutes + mj[k]
                    if new_t > day_minutes or any(m <= new_m and t <= new_t for m, t, _, _ in there):
                        continue
                    there[:] = [lab for lab in there if not (new_m <= lab[0] and new_t <= lab[1])]
                    there.append((new_m, new_t, j, index))
    best_cost, best = sum(penalty), None            # visiting nothing: every penalty
    for mask in range(1, full + 1):
        dropped = sum(penalty[i] for i in range(n) if not mask >> i & 1)
        if dropped > best_cost:
            continue
        for j in range(n):
            for index, (metres, _, _, _) in enumerate(labels[mask][j]):
                if dropped + metres < best_cost:
                    best_cost, best = dropped + metres, (mask, j, index)
    order: list[int] = []
    while best is not None:
        mask, j, index = best
        order.append(j)
        _, _, prev, prev_index = labels[mask][j][index]
        best = (mask & ~(1 << j), prev, prev_index) if prev >= 0 else None
    order.reverse()
    kept = set(order)
    return _route_from_order(start, stops, order, matrix, [stops[i].key for i in range(n) if i not in kept])


def solve_search(start: tuple[float, float], stops: list[Stop], time_limit_s: float = 0.5,
                 day_minutes: int = DAY_MINUTES) -> Route:
    """OR-Tools: cheapest arc first, then guided local search until `time_limit_s` (any size)."""
    if not stops:
        return Route([], [], [], [], 0.0)
    matrix = _matrix(start, stops)
    size = len(stops) + 1
    # Open tour: a dummy end (index `size`) reachable from everywhere at no cost.
    manager = pywrapcp.RoutingIndexManager(size + 1, 1, [0], [size])
    routing = pywrapcp.RoutingModel(manager)

    def distance(i: int, j: int) -> int:
        a, b = manager.IndexToNode(i), manager.IndexToNode(j)
        return 0 if b == size or a == size else matrix[a][b]

    def travel_time(i: int, j: int) -> int:
        a, b = manager.IndexToNode(i), manager.IndexToNode(j)
        service = VISIT_MINUTES if 0 < a < size else 0
        return service + (0 if b == size or a == size else _minutes(matrix[a][b]))

    routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitCallback(distance))
    time_index = routing.RegisterTransitCallback(travel_time)
    routing.AddDimension(time_index, 0, day_minutes, True, "time")
    for node, penalty in enumerate(_drop_penalties(stops), start=1):
        routing.AddDisjunction([manager.NodeToIndex(node)], penalty)
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.time_limit.FromMilliseconds(max(1, int(time_limit_s * 1000)))
    solution = routing.SolveWithParameters(params)
    if solution is None:  # pragma: no cover - every stop is optional, so a solution always exists
        return nearest_neighbour(start, stops)
    order, index = [], routing.Start(0)
    while not routing.IsEnd(index):
        node = manager.IndexToNode(index)
        if 0 < node < size:
            order.append(node - 1)
        index = solution.Value(routing.NextVar(index))
    dropped = [stops[i].key for i in range(len(stops)) if i not in set(order)]
    return _route_from_order(start, stops, order, matrix, dropped)


def nearest_neighbour(start: tuple[float, float], stops: list[Stop]) -> Route:
    """Baseline: always go to the closest stop not yet visited (every stop, whatever the day's length)."""
    matrix = _matrix(start, stops)
    left, order, here = set(range(len(stops))), [], 0
    while left:
        nxt = min(left, key=lambda i: matrix[here][i + 1])
        order.append(nxt)
        left.remove(nxt)
        here = nxt + 1
    return _route_from_order(start, stops, order, matrix, [])


def in_order(start: tuple[float, float], stops: list[Stop]) -> Route:
    """The stops in the order given (the route as planned, to compare a new order with)."""
    return _route_from_order(start, stops, list(range(len(stops))), _matrix(start, stops), [])


def random_order(start: tuple[float, float], stops: list[Stop], seed: int = 7) -> Route:
    """Baseline: the stops in a random order."""
    order = list(range(len(stops)))
    random.Random(seed).shuffle(order)
    return _route_from_order(start, stops, order, _matrix(start, stops), [])

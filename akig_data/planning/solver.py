"""Putting one agent's visits of the day in route order (OR-Tools' routing library).

We have no road network offline, so a leg is the great-circle distance times a detour factor (1.3:
Conakry's streets are far from straight lines), driven at an average moto speed. The working day is a
time dimension (08:00–17:00 by default, 15 minutes per visit): visits that do not fit are dropped,
the least valuable first (each visit is optional, with a penalty far above any detour that grows with
its priority). Two baselines
are kept for bench/routing.py: nearest neighbour and the order given.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from ortools.constraint_solver import pywrapcp, routing_enums_pb2

DETOUR = 1.3
SPEED_KMH = 18.0          # average moto speed in Conakry traffic
VISIT_MINUTES = 15
DAY_MINUTES = 9 * 60      # 08:00-17:00
DROP_COST = 100_000_000   # metres-equivalent: far above any day's driving


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


def solve(start: tuple[float, float], stops: list[Stop], time_limit_s: float = 0.5,
          day_minutes: int = DAY_MINUTES) -> Route:
    """The best open tour from `start` through the stops that fit in the day (no return to start)."""
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
    # Dropping a stop costs more than any detour (100 km), and more for a more valuable stop (up to 2x),
    # so stops are dropped only when the day is too short, the least valuable first.
    top = max(max(s.priority for s in stops), 1)
    for node, stop in enumerate(stops, start=1):
        routing.AddDisjunction([manager.NodeToIndex(node)], DROP_COST + int(DROP_COST * max(stop.priority, 0) / top))
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

"""The live map's pieces in-process: the one poller per process (subscribers share its reads, tracks of
the day accumulate without duplicates, the thread stops with the last subscriber), the map's layers and
filters, re-planning from the page, the replay, and memory over 100 updates of 5 maps."""

from __future__ import annotations

import datetime as dt
import time
import tracemalloc
import warnings

import holoviews as hv
import pandas as pd
import panel as pn
from bokeh.document import Document

from akig_data.writes import missions, positions
from akig_data.access.scope import Principal, acting_as
from dashboards.widgets import map_layers
from dashboards.io.live_feed import LiveFeed, Snapshot

UTC = dt.timezone.utc
pn.extension("tabulator")
hv.extension("bokeh")


def post(agent: str, lat: float, lon: float, seconds_ago: float = 0.0) -> None:
    moment = dt.datetime.now(UTC) - dt.timedelta(seconds=seconds_ago)
    body = {"agent_ref": agent, "fixes": [{"t": moment.isoformat(), "lat": lat, "lon": lon, "battery": 50}]}
    positions.ingest(*positions.parse_batch(body))


def test_one_read_per_change_whatever_the_number_of_subscribers(seeded):
    feed = LiveFeed(interval_s=0.05, refresh_s=3600)
    got: dict[int, list[int]] = {i: [] for i in range(5)}
    tokens = [feed.subscribe(lambda snap, i=i: got[i].append(snap.seq)) for i in range(5)]
    assert feed.subscriber_count == 5
    deadline = time.monotonic() + 5
    while feed.snapshot is None and time.monotonic() < deadline:
        time.sleep(0.02)
    ticks_before, reads_before = feed.ticks, feed.reads
    for k in range(3):
        post("AGT-001", 9.55 + k * 0.001, -13.66, seconds_ago=10 - k)
        time.sleep(0.3)
    assert feed.reads - reads_before == 3            # one read per change, not one per subscriber
    assert feed.ticks - ticks_before > 10            # the other ticks only looked at the version counter
    assert all(seqs == got[0] and len(seqs) >= 4 for seqs in got.values())
    for token in tokens:
        feed.unsubscribe(token)
    feed._thread.join(timeout=5)
    assert feed.subscriber_count == 0 and not feed._thread.is_alive()


def test_tracks_of_the_day_accumulate_once_and_reset_the_next_day(seeded):
    feed = LiveFeed()
    now = dt.datetime.now(positions.TZ)
    for k in range(4):
        post("AGT-002", 9.55 + k * 0.001, -13.66, seconds_ago=40 - k)
    assert feed.tick(now)
    assert len(feed.snapshot.tracks["AGT-002"]) == 4
    post("AGT-002", 9.56, -13.66, seconds_ago=1)
    assert feed.tick(now + dt.timedelta(seconds=1))
    track = feed.snapshot.tracks["AGT-002"]
    assert len(track) == 5 and track["t"].is_monotonic_increasing       # the overlap re-read added nothing twice
    assert not feed.tick(now + dt.timedelta(seconds=2))                  # nothing new: no read
    feed._last_build = 0                                                 # refresh due (ages change with time)
    assert feed.tick(now + dt.timedelta(days=1))
    assert feed.snapshot.tracks == {}                                    # a new day: today's tracks only


def test_without_redis_the_feed_reads_postgresql_each_tick(seeded):
    from akig_data import runtime
    from tests.conftest import settings_for

    runtime.configure(settings_for(seeded.database_url, "off"))
    feed = LiveFeed()
    post("AGT-003", 9.57, -13.65)
    assert feed.tick() and feed.tick()
    assert feed.snapshot.agents.set_index("agent_ref").loc["AGT-003", "lat"] == 9.57


def agents_frame(n: int = 3, active: bool = True) -> pd.DataFrame:
    return pd.DataFrame({
        "agent_ref": [f"AGT-{i:03d}" for i in range(1, n + 1)], "full_name": [f"Agent {i}" for i in range(n)],
        "zone": ["Kaloum"] * n, "missions_done": [1] * n, "missions_planned": [4] * n,
        "t": [pd.Timestamp.now(tz="UTC")] * n, "lat": [9.5 + i / 100 for i in range(n)],
        "lon": [-13.7 + i / 100 for i in range(n)], "accuracy_m": [5.0] * n, "battery": [80.0] * n,
        "age_s": [12.0 if active else 3600.0] * n, "active": [active] * n})


def test_layers_from_frames():
    assert [map_layers.bucket(d) for d in (0, 30, 31, 60, 61, 90, 91, 400)] == [
        "0–30 j", "0–30 j", "31–60 j", "31–60 j", "61–90 j", "61–90 j", "90 j et +", "90 j et +"]
    assert [map_layers.age_text(s) for s in (5, 125, 7300, 50_000, 200_000, None)] == [
        "il y a 5 s", "il y a 2 min", "il y a 2 h 01", "il y a 13 h", "il y a 2 j 7 h", "aucune position"]
    table = map_layers.agents_table(agents_frame(2, active=False))
    assert list(table["Statut"]) == ["inactif", "inactif"] and list(table["Missions"]) == ["1/4", "1/4"]
    points, names = map_layers.agents(agents_frame(2, active=False))
    assert len(points) == 2 and len(names) == 0          # names next to active agents only
    x, y = map_layers.mercator([0.0, -13.7], [0.0, 9.5])
    assert abs(x[0]) < 1e-6 and abs(y[0]) < 1e-6 and -1_530_000 < x[1] < -1_520_000
    assert map_layers.tiles("off") is None and map_layers.tiles("http://tiles/{Z}/{X}/{Y}.png") is not None
    assert "90 j et +" in map_layers.legend_html()


def render(view) -> Document:
    """Build the Bokeh models of a view (its map, for the live map) as a server session would."""
    from dashboards.apps.live_map import LiveMap

    doc = Document()
    (view.plot() if isinstance(view, LiveMap) else view.__panel__()).get_root(doc)
    return doc


def test_the_map_page_filters_replans_and_replays(seeded):
    from dashboards.apps.live_map import LiveMap
    from dashboards.parts.replay import Replay

    day = dt.datetime.now(missions.TZ).date()
    missions.generate(day)
    post("AGT-001", 9.52, -13.70, seconds_ago=120)
    post("AGT-001", 9.53, -13.69, seconds_ago=60)
    manager = Principal("m", "manager", None, None)
    with acting_as(manager):
        view = LiveMap()
        render(view)
        assert {"agents", "names", "tracks"} <= set(view.sources)
        every = view.late_count
        commune = list(view.param.commune.objects)[1]
        view.commune = commune
        view._sites_layer(view.owner_ref, commune, 0, 0, True)
        assert 0 < view.late_count <= every
        view.min_days_late = 91
        view._sites_layer(view.owner_ref, commune, 0, 91, True)
        assert view.late_count <= every
        view.reoptimize()
        assert "Choisissez d'abord un agent" in view.message
        planned = positions.agents_on_map()
        agent = planned.sort_values("missions_planned").iloc[-1]["agent_ref"]
        view.agent_ref = agent
        view.reoptimize()
        assert "réoptimisée" in view.message and "économisés" in view.message and view.routes_version == 1
        snapshot = Snapshot(99, dt.datetime.now(positions.TZ), agents_frame(3))
        view._apply(snapshot)
        assert view.updates == 1 and list(view.sources["agents"].data["agent_ref"]) == ["AGT-001", "AGT-002", "AGT-003"]
        assert view.sources["names"].data["full_name"] == ["Agent 0", "Agent 1", "Agent 2"]
        view._apply(Snapshot(98, snapshot.made_at, agents_frame(1)))      # older: ignored
        assert len(view.sources["agents"].data["agent_ref"]) == 3
        view.show_tracks = False
        assert view.sources["tracks"].data["xs"] == []

        replay = Replay(sites=view.sites)
        render(replay)
        assert "Choisissez un agent" in replay.summary_pane.object
        replay.agent_ref = "AGT-001"
        assert len(replay.track) == 2 and replay.step == 1
        assert "0 visite(s)" in replay.summary_pane.object and "km parcourus" in replay.summary_pane.object
        replay.step = 0
        assert "0,0 km parcourus" in replay.summary_pane.object
        replay.moment(0)
        replay.day = day - dt.timedelta(days=3)
        assert "Aucune position GPS" in replay.summary_pane.object

    with acting_as(Principal("o", "ops", None, None)):
        ops_view = LiveMap()
        ops_view.agent_ref = agent
        ops_view.reoptimize()
        assert "Impossible de réoptimiser" in ops_view.message and "Accès refusé" in ops_view.message
        assert len(ops_view.areas().main[0]) == 1   # no replay tab for ops


def test_memory_of_5_maps_over_100_updates_stays_flat(seeded):
    """The per-update path (new data into the Bokeh sources) of 5 maps, 100 times after 100 to warm up:
    allocations that survive are bounded (0.75 MB). Keeping one 3-agent snapshot per update and map would
    be ~10 KB an update, 1 MB here. What survives without a leak does not grow with the count: measured
    0.26–0.41 MB after 30, 60, 100 and 150 traced updates, so the bound is that of the 150-update version
    of this test (5 KB an update then). The server-level test (test_live_map.py) posts 200 updates over
    HTTP and bounds the server's RSS; tracemalloc makes each traced update here several times slower.
    Warnings are ignored as a server shows each once: pytest records every one (pandas 3.1 deprecates an
    argument Panel's table passes), which would count as growth."""
    from dashboards.apps.live_map import LiveMap

    with acting_as(Principal("m", "manager", None, None)):
        views = [LiveMap() for _ in range(5)]
        for view in views:
            render(view)
    made_at = dt.datetime.now(positions.TZ)

    def updates(first: int, count: int) -> None:
        for seq in range(first, first + count):
            frame = agents_frame(3)
            frame["lat"] += seq * 1e-5
            tracks = {"AGT-001": pd.DataFrame({"t": [made_at] * 2, "lat": [9.5, 9.51 + seq * 1e-6], "lon": [-13.7, -13.69]})}
            for view in views:
                view._tracks_sent = 0
                view._apply(Snapshot(seq, made_at, frame, tracks))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        updates(1, 100)
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        updates(101, 100)
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert all(view.updates == 200 for view in views)
    assert grown < 0.75 * 1024 * 1024, f"{grown / 1e6:.2f} MB kept after 100 updates"

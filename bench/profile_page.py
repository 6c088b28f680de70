"""Where the server's time goes when it creates a page's session: builds an app in this process as the
server's session factory does (dashboards.server.app.guarded_factory: the view, its areas, the AKIG
template) for a given user, puts it in a Bokeh document (`template.server_doc`), runs the deferred panes
as the browser's connection would (Panel's onload callbacks, here in this thread) and serialises the
document (what the websocket's first answer carries), under cProfile.

    AKIG_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/akig_demo AKIG_REDIS_URL=redis://127.0.0.1:6379/0 \
        .venv/bin/python bench/profile_page.py /proprietaire [--role analyst] [--owner-ref OWN-0001] [--runs 3] [--top 25]

Without a server session Panel renders the deferred panes (charts, tables) at once, inside server_doc,
where the server renders them in its thread pool once the browser connects: the CPU is the same, phase 2
holds it. The first build is not counted (imports, first reads); the next `--runs` are timed by phase and
profiled together. Times are this process's CPU time (time.process_time), so that the machine's load does
not count; cProfile's own overhead does (a page costs about 4 to 5 times its unprofiled CPU). Prints the
phases' CPU time per page, the self time per library, the cumulative time of a few parts (HoloViews
panes, Tabulator, reads, Bokeh's model bookkeeping, serialisation) and the functions with the largest
cumulative and self times; not a test.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import panel as pn  # noqa: E402
from bokeh.document import Document  # noqa: E402
from panel.io.state import set_curdoc, state  # noqa: E402

from akig_data.access.scope import Principal, acting_as  # noqa: E402
from dashboards import template  # noqa: E402
from dashboards.server.app import APPS  # noqa: E402
from dashboards.catalog import entries  # noqa: E402


# Entry points whose cumulative time says what a part of the page costs: (label, file's path end, function).
PARTS = [
    ("Bokeh figures of the charts and the map attached (panel Bokeh._get_model)", "panel/pane/plot.py", "_get_model"),
    ("HoloViews panes to Bokeh, if any (panel HoloViews._get_model)", "panel/pane/holoviews.py", "_get_model"),
    ("Tabulator tables (panel Tabulator._get_model)", "panel/widgets/tables.py", "_get_model"),
    ("the data layer's reads, Redis hit or SQL (akig_data Memo.get_or_compute)", "akig_data/memo.py", "get_or_compute"),
    ("Bokeh collecting the document's models on each add_root (bokeh DocumentModelManager.recompute)",
     "bokeh/document/models.py", "recompute"),
    ("document serialised (bokeh Document.to_json)", "bokeh/document/document.py", "to_json"),
]


def build(path: str, phases: dict[str, float]) -> Document:
    title = {e.path: e.title for e in entries()}[path]
    doc = Document()
    with set_curdoc(doc):
        t0 = time.process_time()
        view = APPS[path](sync_url=False)
        main, sidebar = view.areas()
        page = template.page(view.title or title, main=main, sidebar=sidebar)
        t1 = time.process_time()
        page.server_doc(doc)
        t2 = time.process_time()
        state._on_load(doc)
        t3 = time.process_time()
        doc.to_json()
        t4 = time.process_time()
    for name, seconds in (("1 view and panes built (Python objects, reads)", t1 - t0),
                          ("2 Bokeh models of the page, charts and tables included (server_doc)", t2 - t1),
                          ("3 onload callbacks (deferred panes: none here, see above)", t3 - t2),
                          ("4 document serialised (to_json)", t4 - t3)):
        phases[name] += seconds
    return doc


def library(filename: str) -> str:
    parts = Path(filename).parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].split(".")[0]
    for ours in ("akig_data", "dashboards"):
        if ours in parts:
            return ours
    if filename.startswith(("<", "~")) or "python3" in filename:
        return "(stdlib and builtins)"
    return "(other)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", choices=sorted(APPS))
    parser.add_argument("--role", default="analyst")
    parser.add_argument("--owner-ref")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--dump", help="write the pstats file here (for snakeviz, gprof2dot...)")
    args = parser.parse_args()
    pn.extension("tabulator", notifications=True)
    who = Principal(f"bench-{args.role}", args.role, owner_ref=args.owner_ref)
    with acting_as(who):
        build(args.path, defaultdict(float))   # the first build: imports, first reads; not counted
        phases: dict[str, float] = defaultdict(float)
        profiler = cProfile.Profile(time.process_time)  # CPU time: other processes' load does not count
        start, wall_start = time.process_time(), time.perf_counter()
        for _ in range(args.runs):
            profiler.enable()
            build(args.path, phases)
            profiler.disable()
        cpu = (time.process_time() - start) / args.runs
        wall = (time.perf_counter() - wall_start) / args.runs
    print(f"{args.path} as {args.role}{' ' + args.owner_ref if args.owner_ref else ''}: "
          f"{cpu:.2f} s of CPU ({wall:.2f} s wall) per page under cProfile ({args.runs} runs)\n")
    print("| phase | CPU s per page |\n|---|---:|")
    for name, seconds in sorted(phases.items()):
        print(f"| {name[2:]} | {seconds / args.runs:.3f} |")
    stats = pstats.Stats(profiler)
    if args.dump:
        stats.dump_stats(args.dump)
    own = defaultdict(float)
    for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():
        own[library(filename)] += tottime
    total = sum(own.values())
    print("\n| library | self time, s per page | share |\n|---|---:|---:|")
    for name, seconds in sorted(own.items(), key=lambda kv: -kv[1])[:12]:
        print(f"| {name} | {seconds / args.runs:.3f} | {seconds / total:.0%} |")
    print("\n| part (cumulative, may nest) | CPU s per page |\n|---|---:|")
    for label, tail, function in PARTS:
        found = [v[3] for (filename, _, name), v in stats.stats.items() if filename.endswith(tail) and name == function]
        print(f"| {label} | {sum(found) / args.runs:.3f} |" if found else f"| {label} | — |")
    out = io.StringIO()
    stats.stream = out
    stats.sort_stats("cumulative").print_stats(args.top)
    stats.sort_stats("tottime").print_stats(args.top)
    print(f"\nLargest cumulative times, then self times ({args.runs} runs together):\n")
    print(out.getvalue().strip())


if __name__ == "__main__":
    main()

"""GET /api/reads/NAME answers one page at a time, like the other list routes: never more than 1000 rows
in one answer, the total and the next page's number to fetch the rest, and a page_size above 1000
refused with a French message (rather than cut down, which a client would take for the whole read)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from akig_data import runtime
from akig_data.writes import users
from tests.conftest import SMALL_UNTIL, settings_for
from tests.serving import seeded_server
from tests.dashboards.server.test_collection_api import get_json as get

EXTRA_PROMISES = 1_200   # with the data set's own, more than one maximal page of `promises`


@pytest.fixture(scope="module")
def many_rows(databases, seeded_template, redis_url, tmp_path_factory):
    """A server over a copy of the small data set with 1200 more promises (before any read is cached)."""
    with seeded_server(databases, seeded_template, redis_url, tmp_path_factory.mktemp("pages"), "pages") as (base, url):
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        with engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO promises (promise_ref, lease_id, agent_id, created_at, due_date, amount)"
                " SELECT 'PRO-PAGE-' || i, (SELECT min(id) FROM leases), NULL, :at, :due, 1000"
                "   FROM generate_series(1, :n) i"),
                {"at": f"{SMALL_UNTIL}T08:00:00+00:00", "due": SMALL_UNTIL, "n": EXTRA_PROMISES})
            total = conn.execute(sa.text("SELECT count(*) FROM promises")).scalar()
        engine.dispose()
        runtime.configure(settings_for(url, redis_url))
        token = users.rotate_token("t-manager", actor="test")
        runtime.reset()
        yield base, token, total


def test_a_read_larger_than_the_maximum_comes_in_pages(many_rows):
    base, token, total = many_rows
    read = f"/api/reads/promises?as_of={SMALL_UNTIL}"
    status, first = get(base, read, token)
    assert status == 200 and first["read"] == "promises"
    assert len(first["rows"]) <= 1000, f"{len(first['rows'])} rows in one answer"
    assert first["total"] > 1000 and len(first["rows"]) == first["page_size"] == 100 and first["next_page"] == 2
    status, big = get(base, read + "&page_size=1000", token)
    assert status == 200 and len(big["rows"]) == 1000 and big["total"] == first["total"] and big["next_page"] == 2
    status, rest = get(base, read + f"&page_size=1000&page={big['next_page']}", token)
    assert status == 200 and len(rest["rows"]) == rest["total"] - 1000 and rest["next_page"] is None
    refs = [r["promise_ref"] for r in big["rows"] + rest["rows"]]
    assert len(set(refs)) == len(refs) == big["total"]           # the pages together: every row, once
    assert sum(r["promise_ref"].startswith("PRO-PAGE-") for r in big["rows"] + rest["rows"]) == EXTRA_PROMISES


@pytest.mark.parametrize("query", ["page_size=1001", "page_size=100000", "page_size=0", "page=0", "page=x"])
def test_a_page_size_above_the_maximum_or_a_bad_page_is_refused_in_french(many_rows, query):
    base, token, _ = many_rows
    status, body = get(base, f"/api/reads/promises?as_of={SMALL_UNTIL}&{query}", token)
    assert status == 400 and "rows" not in body
    assert body["error"] in ("page ≥ 1 et page_size de 1 à 1000.", "page et page_size : nombres entiers attendus.")

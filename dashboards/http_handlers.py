"""Plain HTTP routes served by the same Tornado server as the apps.

Panel's auth provider does not cover these routes (FIELD-NOTES): each handler decides itself who may
call it. /api/health is open on purpose and says nothing secret.
"""

from __future__ import annotations

import json

from tornado.ioloop import IOLoop
from tornado.web import RequestHandler

from akig_data import health


class JSONHandler(RequestHandler):
    def write_json(self, payload, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(payload, ensure_ascii=False))


class HealthHandler(JSONHandler):
    """GET /api/health: 200 when PostgreSQL answers (cache state included), 503 when it does not."""

    async def get(self) -> None:
        report = await IOLoop.current().run_in_executor(None, health.check)
        self.write_json(report, 200 if report["database"]["ok"] else 503)


def routes() -> list[tuple]:
    return [(r"/api/health", HealthHandler)]

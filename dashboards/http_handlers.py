"""Plain HTTP routes served by the same Tornado server as the apps.

Panel's auth provider does not cover these routes (FIELD-NOTES): each handler decides itself who may
call it.

* /api/health is open on purpose and says nothing secret;
* every other /api/* route needs an API token (`Authorization: Bearer akig_...`, from
  `akig users token`) or a logged-in session cookie, checks the role against akig_data.roles, and is
  rate-limited per token or user and per address (429 with Retry-After);
* /metrics needs the bearer token of AKIG_METRICS_TOKEN (and answers 404 when none is configured).
"""

from __future__ import annotations

import hmac
import json
import os

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from tornado.ioloop import IOLoop
from tornado.web import RequestHandler

from akig_data import export, health, metrics, registry, throttle, users
from akig_data.errors import AccessDenied, AkigError, DatabaseUnavailable, InvalidParameter
from akig_data.scope import Principal, acting_as
from dashboards import auth


class JSONHandler(RequestHandler):
    route = "?"

    def write_json(self, payload, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")
        metrics.API_REQUESTS.labels(self.route, str(status)).inc()
        self.finish(json.dumps(payload, ensure_ascii=False))

    def write_error_json(self, status: int, message: str, **extra) -> None:
        self.write_json({"error": message, **extra}, status)


class HealthHandler(JSONHandler):
    """GET /api/health: 200 when PostgreSQL answers (cache state included), 503 when it does not."""

    route = "/api/health"

    async def get(self) -> None:
        report = await IOLoop.current().run_in_executor(None, health.check)
        self.write_json(report, 200 if report["database"]["ok"] else 503)


def api_limits() -> tuple[int, int]:
    """Requests per minute allowed per token/user and per address."""
    return (int(os.environ.get("AKIG_API_RATE_PER_USER", "120")),
            int(os.environ.get("AKIG_API_RATE_PER_ADDRESS", "300")))


class AuthenticatedHandler(JSONHandler):
    """Resolves the caller (token or session), applies the rate limit, then runs `handle` in a thread
    with the data layer acting as that caller."""

    def _caller(self) -> Principal | None:
        header = self.request.headers.get("Authorization", "")
        if header.lower().startswith("bearer "):
            user = users.user_for_token(header[7:].strip())
            return Principal(user.username, user.role, user.owner_ref, user.agent_ref) if user else None
        return auth.principal_from_cookie(self.get_cookie(auth.COOKIE))

    async def get(self, *args) -> None:
        address = self.request.remote_ip or "?"
        loop = IOLoop.current()
        try:
            who = await loop.run_in_executor(None, self._caller)
        except DatabaseUnavailable as exc:
            self.write_error_json(503, str(exc))
            return
        per_user, per_address = api_limits()
        keys = [(f"addr:{address}", per_address)] + ([(f"user:{who.username}", per_user)] if who else [])
        verdict = throttle.rate_limit(keys)
        if not verdict.allowed:
            self.set_header("Retry-After", str(verdict.retry_after))
            self.write_error_json(429, "Trop de requêtes : réessayez plus tard.", retry_after=verdict.retry_after)
            return
        if who is None:
            self.set_header("WWW-Authenticate", 'Bearer realm="akig"')
            self.write_error_json(401, "Authentification requise (jeton d'API ou session).")
            return

        def run():
            with acting_as(who):
                return self.handle(who, *args)

        try:
            status, payload = await loop.run_in_executor(None, run)
        except AccessDenied as exc:
            self.write_error_json(403, str(exc))
            return
        except InvalidParameter as exc:
            self.write_error_json(400, str(exc))
            return
        except DatabaseUnavailable as exc:
            self.write_error_json(503, str(exc))
            return
        except AkigError as exc:
            self.write_error_json(400, str(exc))
            return
        self.write_json(payload, status)

    def handle(self, who: Principal, *args) -> tuple[int, object]:  # pragma: no cover - abstract
        raise NotImplementedError


class MeHandler(AuthenticatedHandler):
    """GET /api/me: who the token or session stands for."""

    route = "/api/me"

    def handle(self, who: Principal, *args):
        return 200, {"username": who.username, "role": who.role, "owner_ref": who.owner_ref,
                     "agent_ref": who.agent_ref}


class ReadHandler(AuthenticatedHandler):
    """GET /api/reads/NAME?param=value: any read the caller's role may make, as JSON records (an owner
    gets his own rows only, exactly as in the apps)."""

    route = "/api/reads"

    def handle(self, who: Principal, name: str):
        try:
            spec = registry.get(name)
        except InvalidParameter as exc:
            return 404, {"error": str(exc)}
        kwargs = {k: self.get_query_argument(k) for k in self.request.query_arguments}
        frame = registry.table_to_frame(registry.execute(spec, kwargs))
        return 200, {"read": name, "rows": export.records(frame)}


class MetricsHandler(RequestHandler):
    """GET /metrics: Prometheus text format, for the bearer of AKIG_METRICS_TOKEN only."""

    def get(self) -> None:
        expected = os.environ.get("AKIG_METRICS_TOKEN", "")
        if not expected:
            self.set_status(404)
            self.finish("metrics are disabled: set AKIG_METRICS_TOKEN\n")
            return
        given = self.request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
            self.set_status(401)
            self.set_header("WWW-Authenticate", 'Bearer realm="metrics"')
            self.finish("unauthorized\n")
            return
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish(generate_latest())


def routes() -> list[tuple]:
    return [
        (r"/api/health", HealthHandler),
        (r"/api/me", MeHandler),
        (r"/api/reads/([a-z_]+)", ReadHandler),
        (r"/metrics", MetricsHandler),
    ]

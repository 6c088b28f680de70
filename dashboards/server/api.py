"""Plain HTTP routes served by the same Tornado server as the apps.

Panel's auth provider does not cover these routes (FIELD-NOTES): each handler decides itself who may
call it.

* /api/health is open on purpose and says nothing secret;
* /api/agent/login is open too: it is where the agents' phone app trades a password (and a TOTP code)
  for a device token, under the browser login's lockout;
* every other /api/* route needs an API token (`Authorization: Bearer akig_...`, from
  `akig users token`), a phone's device token (`Bearer akigd_...`) or a logged-in session cookie, checks
  the role against akig_data.access.roles, and is rate-limited per token or user and per address (429
  with Retry-After);
* /metrics needs the bearer token of AKIG_METRICS_TOKEN (and answers 404 when none is configured).
"""

from __future__ import annotations

import hmac
import json

from tornado.ioloop import IOLoop
from tornado.web import HTTPError, RequestHandler

from akig_data import config, reads
from akig_data.writes import audit, collection, positions, users
from akig_data.reports import spreadsheet as export
from akig_data.observe import health, metrics
from akig_data.reads import registry
from akig_data.access import roles, throttle
from akig_data.planning import replan as route_planning
from akig_data.errors import AccessDenied, AkigError, DatabaseUnavailable, InvalidParameter
from akig_data.access.scope import Principal, acting_as
from dashboards.server import auth


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

    def json_object(self, max_body: int) -> dict | None:
        """The request's body as a JSON object, or None once a 4xx says why not (413 too big, 400 not
        JSON or not an object)."""
        if len(self.request.body) > max_body:
            self.refused(len(self.request.body))
            self.write_error_json(413, f"Corps de requête trop gros (au plus {max_body // 1024} Kio).", field="body")
            return None
        try:
            body = json.loads(self.request.body or b"null")
        except (ValueError, UnicodeDecodeError):
            self.refused(None)
            self.write_error_json(400, "JSON invalide.", field="body")
            return None
        if not isinstance(body, dict):
            self.refused(None)
            self.write_error_json(400, "Un objet JSON est attendu.", field="body")
            return None
        return body

    def refused(self, body) -> None:
        """Called when a request is refused as bad input (a hook for counting refusals)."""

    def rate_limited(self, address: str, username: str | None = None) -> bool:
        """Count this request against the address's (and the user's) budget of the minute; True once a
        429 with Retry-After has been written."""
        per_user, per_address = api_limits()
        keys = [(f"addr:{address}", per_address)] + ([(f"user:{username}", per_user)] if username else [])
        verdict = throttle.rate_limit(keys)
        if verdict.allowed:
            return False
        self.set_header("Retry-After", str(verdict.retry_after))
        self.write_error_json(429, "Trop de requêtes : réessayez plus tard.", retry_after=verdict.retry_after)
        return True


class HealthHandler(JSONHandler):
    """GET /api/health: 200 when PostgreSQL answers (cache state included), 503 when it does not."""

    route = "/api/health"

    async def get(self) -> None:
        report = await IOLoop.current().run_in_executor(None, health.check)
        self.write_json(report, 200 if report["database"]["ok"] else 503)


MAX_BODY = 64 * 1024


def api_limits() -> tuple[int, int]:
    """Requests per minute allowed per token/user and per address."""
    settings = config.load()
    return settings.api_rate_per_user, settings.api_rate_per_address


def _bearer(handler: RequestHandler) -> str | None:
    """The token of an `Authorization: Bearer …` header (None without such a header)."""
    header = handler.request.headers.get("Authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


class AuthenticatedHandler(JSONHandler):
    """Resolves the caller (token or session), applies the rate limit, then runs `handle` in a thread
    with the data layer acting as that caller."""

    max_body = MAX_BODY

    def _caller(self) -> tuple[Principal | None, bool]:
        """(who, whether he came with a session cookie rather than a token)."""
        token = _bearer(self)
        if token is not None:
            user = users.user_for_token(token)
            return (Principal(user.username, user.role, user.owner_ref, user.agent_ref) if user else None), False
        return auth.principal_from_cookie(self.get_cookie(auth.COOKIE)), True

    async def get(self, *args) -> None:
        await self._serve(args, body=None)

    async def post(self, *args) -> None:
        body = self.json_object(self.max_body)
        if body is not None:
            await self._serve(args, body=body)

    async def _serve(self, args, body: dict | None) -> None:
        address = self.request.remote_ip or "?"
        loop = IOLoop.current()
        try:
            who, by_cookie = await loop.run_in_executor(None, self._caller)
        except DatabaseUnavailable as exc:
            self.write_error_json(503, str(exc))
            return
        if self.rate_limited(address, who.username if who else None):
            return
        if who is None:
            self.set_header("WWW-Authenticate", 'Bearer realm="akig"')
            self.write_error_json(401, "Authentification requise (jeton d'API ou session).")
            return
        if body is not None and by_cookie:
            # A browser session writing: the request must carry the XSRF token (X-XSRFToken header).
            try:
                self.check_xsrf_cookie()
            except HTTPError:
                self.write_error_json(403, "Jeton XSRF manquant ou invalide.")
                return

        def run():
            with acting_as(who):
                return self.handle(who, *args) if body is None else self.handle_post(who, body, address, *args)

        try:
            status, payload = await loop.run_in_executor(None, run)
        except AccessDenied as exc:
            self.write_error_json(403, str(exc))
            return
        except InvalidParameter as exc:
            self.refused(body)
            field = getattr(exc, "field", None)
            self.write_error_json(getattr(exc, "status", 400), str(exc), **({"field": field} if field else {}))
            return
        except DatabaseUnavailable as exc:
            self.write_error_json(503, str(exc))
            return
        except AkigError as exc:
            self.write_error_json(400, str(exc))
            return
        self.write_json(payload, status)

    def handle_post(self, who: Principal, body: dict, address: str, *args) -> tuple[int, object]:
        raise HTTPError(405)

    def handle(self, who: Principal, *args) -> tuple[int, object]:
        raise HTTPError(405)


class MeHandler(AuthenticatedHandler):
    """GET /api/me: who the token or session stands for."""

    route = "/api/me"

    def handle(self, who: Principal, *args):
        return 200, {"username": who.username, "role": who.role, "owner_ref": who.owner_ref,
                     "agent_ref": who.agent_ref}


class ReadHandler(AuthenticatedHandler):
    """GET /api/reads/NAME?param=value&page=&page_size=: any read the caller's role may make, as JSON
    records (an owner gets his own rows only, exactly as in the apps), one page at a time like every
    other list route: a read of the whole portfolio would otherwise put every row in one answer."""

    route = "/api/reads"

    def handle(self, who: Principal, name: str):
        try:
            spec = reads.get(name)
        except InvalidParameter as exc:
            return 404, {"error": str(exc)}
        page, size = _page_arguments(self)   # refused before the read runs
        kwargs = {k: self.get_query_argument(k) for k in self.request.query_arguments if k not in PAGE_ARGUMENTS}
        frame = registry.table_to_frame(registry.execute(spec, kwargs))
        return 200, {"read": name, **_page(frame, page, size)}


class WriteHandler(AuthenticatedHandler):
    """POST /api/calls|visits|promises|payments: a JSON object with the fields below (others are refused);
    201 with the new ref (200 and "duplicate": true for a retried client_id)."""

    FIELDS = {
        "calls": (collection.record_call, ("lease_ref", "outcome"), ("called_at", "note", "agent_ref", "client_id")),
        "visits": (collection.record_visit, ("lease_ref", "outcome", "lat", "lon"),
                   ("accuracy_m", "visited_at", "note", "agent_ref", "client_id")),
        "promises": (collection.record_promise, ("lease_ref", "amount", "due_date"), ("agent_ref", "client_id")),
        "payments": (collection.record_payment, ("lease_ref", "amount", "method"),
                     ("reference", "paid_at", "agent_ref", "client_id")),
    }

    def handle_post(self, who: Principal, body: dict, address: str, kind: str):
        command, required, optional = self.FIELDS[kind]
        missing = [f for f in required if body.get(f) in (None, "")]
        if missing:
            raise InvalidParameter(f"Champ obligatoire manquant : {', '.join(missing)}.")
        unknown = sorted(set(body) - set(required) - set(optional))
        if unknown:
            raise InvalidParameter(f"Champ inconnu : {', '.join(unknown)} (champs : {', '.join(required + optional)}).")
        positional = [body[f] for f in required]
        if kind == "visits":  # lat and lon are keyword arguments of record_visit
            positional, keywords = positional[:2], {"lat": body["lat"], "lon": body["lon"]}
        else:
            keywords = {}
        keywords.update({f: body[f] for f in optional if f in body})
        result = command(*positional, who=who, address=address, **keywords)
        return (200 if result.duplicate else 201), result.as_dict()


PAGE_ARGUMENTS = ("page", "page_size")
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100


def _page_arguments(handler: RequestHandler) -> tuple[int, int]:
    """`page` (from 1) and `page_size` (1 to MAX_PAGE_SIZE, default 100). A larger page is refused, not
    cut down: a client asking for 5000 rows and silently getting 1000 would take them for all."""
    try:
        page = int(handler.get_query_argument("page", "1"))
        size = int(handler.get_query_argument("page_size", str(DEFAULT_PAGE_SIZE)))
    except ValueError:
        raise InvalidParameter("page et page_size : nombres entiers attendus.") from None
    if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidParameter(f"page ≥ 1 et page_size de 1 à {MAX_PAGE_SIZE}.")
    return page, size


def _page(frame, page: int, size: int) -> dict:
    """One page of rows, the total, and the number of the next page (null on the last one)."""
    total = int(len(frame))
    rows = export.records(frame.iloc[(page - 1) * size: page * size])
    return {"rows": rows, "page": page, "page_size": size, "total": total,
            "next_page": page + 1 if page * size < total else None}


def _paginate(handler: RequestHandler, frame) -> dict:
    """The page of `frame` that the request's `page` and `page_size` ask for."""
    return _page(frame, *_page_arguments(handler))


def _run(name: str, **kwargs):
    spec = reads.get(name)
    return registry.table_to_frame(registry.execute(spec, {k: v for k, v in kwargs.items() if v is not None}))


class MissionsHandler(AuthenticatedHandler):
    """GET /api/missions?agent=&date=: the day's missions (an agent gets his own), paginated."""

    route = "/api/missions"

    def handle(self, who: Principal):
        frame = _run("missions", day=self.get_query_argument("date", None), agent_ref=self.get_query_argument("agent", None))
        return 200, _paginate(self, frame)


class GenerateMissionsHandler(AuthenticatedHandler):
    """POST /api/missions/generate {"date": "YYYY-MM-DD"}: plan a day (admins and managers)."""

    route = "/api/missions/generate"

    def handle_post(self, who: Principal, body: dict, address: str):
        import datetime as dt

        from akig_data.writes import missions

        unknown = sorted(set(body) - {"date"})
        if unknown:
            raise InvalidParameter(f"Champ inconnu : {', '.join(unknown)} (champs : date).")
        try:
            day = dt.date.fromisoformat(str(body["date"])) if body.get("date") else dt.datetime.now(missions.TZ).date()
        except ValueError:
            raise InvalidParameter("date : format AAAA-MM-JJ attendu.") from None
        return 200, missions.generate(day, who=who, address=address).as_dict()


class TenantHistoryHandler(AuthenticatedHandler):
    """GET /api/tenants/REF/history: calls, visits, promises and payments, newest first, paginated."""

    route = "/api/tenants/history"

    def handle(self, who: Principal, tenant_ref: str):
        return 200, _paginate(self, _run("tenant_timeline", tenant_ref=tenant_ref))


class DailyStatsHandler(AuthenticatedHandler):
    """GET /api/stats/daily?date=: the day's work by agent and in total."""

    route = "/api/stats/daily"

    def handle(self, who: Principal):
        return 200, {"rows": export.records(_run("daily_stats", day=self.get_query_argument("date", None)))}


class AgentPerformanceHandler(AuthenticatedHandler):
    """GET /api/agents/REF/performance?from=&to=: one agent's results and score over a window."""

    route = "/api/agents/performance"

    def handle(self, who: Principal, agent_ref: str):
        frame = _run("agent_performance", agent_ref=agent_ref, date_from=self.get_query_argument("from", None),
                     date_to=self.get_query_argument("to", None))
        if frame.empty:
            raise InvalidParameter(f"Agent inconnu : {agent_ref}")
        return 200, export.records(frame)[0]


class LeaderboardHandler(AuthenticatedHandler):
    """GET /api/leaderboard?date= (the day's) or ?month=YYYY-MM (the month's), paginated."""

    route = "/api/leaderboard"

    def handle(self, who: Principal):
        month = self.get_query_argument("month", None)
        if month is not None:
            if len(month) == 7:
                month += "-01"
            frame = _run("leaderboard_month", month=month)
        else:
            frame = _run("leaderboard", day=self.get_query_argument("date", None))
        return 200, _paginate(self, frame)


class PositionsHandler(AuthenticatedHandler):
    """POST /api/positions {"agent_ref", "fixes": [{t, lat, lon, accuracy_m, battery}]}: a phone's batch of
    GPS fixes (akig_data.writes.positions): 201 with how many were stored and how many were already there."""

    route = "/api/positions"
    max_body = positions.MAX_BYTES

    def refused(self, body) -> None:
        fixes = body.get("fixes") if isinstance(body, dict) else None
        metrics.POSITIONS.labels("refused").inc(len(fixes) if isinstance(fixes, list) else 1)

    def handle_post(self, who: Principal, body: dict, address: str):
        agent_ref, fixes = positions.parse_batch(body)
        result = positions.ingest(agent_ref, fixes, who=who)
        return (201 if result.stored else 200), result.as_dict()


class LateSitesHandler(AuthenticatedHandler):
    """GET /api/map/late-sites?as_of=&owner=&commune=&min_arrears=&min_days_late=: the map's late sites."""

    route = "/api/map/late-sites"

    def handle(self, who: Principal):
        arg = self.get_query_argument
        frame = _run("late_sites", as_of=arg("as_of", None), owner_ref=arg("owner", None),
                     commune=arg("commune", None), min_arrears=arg("min_arrears", None),
                     min_days_late=arg("min_days_late", None))
        return 200, _paginate(self, frame)


class AgentPositionsHandler(AuthenticatedHandler):
    """GET /api/agents/positions: every active agent's latest fix, its age, battery, today's missions."""

    route = "/api/agents/positions"

    def handle(self, who: Principal):
        if not roles.sees_live_positions(who.role):
            raise AccessDenied("Accès refusé : les positions des agents sont réservées aux responsables et à "
                               "l'exploitation.")
        return 200, {"rows": export.records(positions.agents_on_map())}


class RouteOptimizeHandler(AuthenticatedHandler):
    """POST /api/routes/optimize {"start": {lat, lon}, "stops": [{id, lat, lon}], "start_time"}: the best
    order (OR-Tools), legs and ETAs. Nothing is stored."""

    route = "/api/routes/optimize"

    def handle_post(self, who: Principal, body: dict, address: str):
        if who.role not in roles.ROUTE_OPTIMIZERS:
            raise AccessDenied("Accès refusé : votre rôle ne calcule pas de tournées.")
        return 200, route_planning.optimize_request(body)


# --- the agents' phone app -------------------------------------------------------------------------
#
# The phone logs in once with the agent's password (and his TOTP code when his account has a factor) and
# gets a device token of its own (akig_data.writes.users): one per phone, revoked alone when the phone is
# lost. The token is a bearer token like an API token, so every other route (writes, GPS batches) takes it
# as it is. These routes set no cookie and read none but the day's (which also serves a logged-in
# browser): no XSRF token is needed, since nothing here is authorised by a cookie a browser would send
# on its own.

AGENTS_ONLY = "Cette application est réservée aux agents de recouvrement."
ENROL_FIRST = "Activez d'abord la double authentification depuis un ordinateur."
CODE_REQUIRED = "Code à 6 chiffres requis."
CODE_WRONG = "Code incorrect."


class AgentLoginHandler(JSONHandler):
    """POST /api/agent/login {"username", "password", "code"?, "device"?}: 201 with a device token, the
    same checks as the browser's login form (dashboards.server.auth): lockout per username and address,
    argon2, the TOTP code when the account has a factor, every success and failure audited."""

    route = "/api/agent/login"
    FIELDS = ("username", "password", "code", "device")

    async def post(self) -> None:
        address = self.request.remote_ip or "?"
        body = self.json_object(MAX_BODY)
        if body is None:
            return
        problem = self._check(body)
        if problem:
            self.write_error_json(400, problem, field="body")
            return
        if self.rate_limited(address):
            return
        try:
            status, payload = await IOLoop.current().run_in_executor(None, self._login, body, address)
        except DatabaseUnavailable as exc:
            self.write_error_json(503, str(exc))
            return
        except AkigError as exc:
            self.write_error_json(400, str(exc))
            return
        if status == 429:
            self.set_header("Retry-After", str(payload["retry_after"]))
        self.write_json(payload, status)

    def _check(self, body: dict) -> str | None:
        unknown = sorted(set(body) - set(self.FIELDS))
        if unknown:
            return f"Champ inconnu : {', '.join(unknown)} (champs : {', '.join(self.FIELDS)})."
        missing = [f for f in ("username", "password") if not isinstance(body.get(f), str) or not body[f]]
        if missing:
            return f"Champ obligatoire manquant : {', '.join(missing)} (texte attendu)."
        wrong = [f for f in ("code", "device") if body.get(f) is not None and not isinstance(body[f], str)]
        if wrong:
            return f"Texte attendu : {', '.join(wrong)}."
        if len(body["username"]) > 200 or len(body["password"]) > 1024:
            return "Identifiant ou mot de passe trop long."
        return None

    def _login(self, body: dict, address: str) -> tuple[int, dict]:
        """In a thread: argon2 costs tens of milliseconds of CPU on purpose, and the event loop goes on
        serving the apps meanwhile."""
        import math

        username = body["username"].strip().lower()[:80]
        left = auth.locked_for(username, address)
        if left > 0:
            retry = max(1, math.ceil(left))
            return 429, {"error": auth.LOCKED.format(minutes=max(1, round(left / 60))), "retry_after": retry}
        user = users.verify_password(username, body["password"])
        if user is None:
            auth.login_failed(username, address, "password")
            return 401, {"error": auth.GENERIC_FAILURE}
        if not user.agent_ref:
            self._refused(user, address, "not_an_agent")
            return 403, {"error": AGENTS_ONLY}
        if user.needs_totp:
            if not user.totp_confirmed:
                self._refused(user, address, "totp_not_enrolled")
                return 403, {"error": ENROL_FIRST}
            code = (body.get("code") or "").strip()
            if not code:
                return 401, {"error": CODE_REQUIRED, "needs_code": True}
            if not users.check_totp(user.totp_secret, code):
                auth.login_failed(user.username, address, "totp")
                return 401, {"error": CODE_WRONG, "needs_code": True}
        token, device_id = users.issue_device_token(user.username, body.get("device"), actor=user.username,
                                                    address=address)
        auth.login_succeeded(user, address, {"via": "agent_app", "device_id": device_id})
        return 201, {"token": token, "device_id": device_id,
                     "user": {"username": user.username, "role": user.role, "agent_ref": user.agent_ref,
                              "agent_name": user.agent_name}}

    @staticmethod
    def _refused(user: users.User, address: str, reason: str) -> None:
        """The right password, but this account may not use the phone app: audited, not counted as a
        failure (nothing was guessed)."""
        audit.record(actor=user.username, role=user.role, action="login_refused", address=address,
                     details={"reason": reason, "via": "agent_app"})


class AgentLogoutHandler(JSONHandler):
    """POST /api/agent/logout with the phone's device token: revokes that token (200 {"revoked": true});
    any other caller, or a token already revoked, gets 401."""

    route = "/api/agent/logout"

    async def post(self) -> None:
        address = self.request.remote_ip or "?"
        if self.rate_limited(address):
            return
        token = _bearer(self) or ""
        if not token.startswith(users.DEVICE_PREFIX):
            self._unauthorized("Jeton d'appareil requis (Authorization: Bearer akigd_…).")
            return
        try:
            device = await IOLoop.current().run_in_executor(
                None, lambda: users.revoke_device_token(token, address=address))
        except DatabaseUnavailable as exc:
            self.write_error_json(503, str(exc))
            return
        if device is None:
            self._unauthorized("Jeton d'appareil inconnu ou déjà révoqué.")
            return
        self.write_json({"revoked": True})

    def _unauthorized(self, message: str) -> None:
        self.set_header("WWW-Authenticate", 'Bearer realm="akig"')
        self.write_error_json(401, message)


class AgentTodayHandler(AuthenticatedHandler):
    """GET /api/agent/today?date=YYYY-MM-DD: the caller's own day (default today in Conakry) as his phone
    shows it: his missions in route order with each lease's last contact and pending promise (the
    agent_day read), his newest GPS fix of the day, and the phone's settings. There is no parameter for
    another agent: the day is always the caller's, so an agent's phone can never ask for a colleague's."""

    route = "/api/agent/today"

    def handle(self, who: Principal):
        import datetime as dt

        from akig_data.clock import TZ, today
        from akig_data.runtime import get_runtime

        if not who.agent_ref:
            raise AccessDenied("Accès refusé : cette application est réservée aux agents de recouvrement.")
        unknown = sorted(set(self.request.query_arguments) - {"date"})
        if unknown:
            raise InvalidParameter(f"Paramètre inconnu : {', '.join(unknown)} (paramètre : date ; la journée est "
                                   "toujours celle de l'agent connecté).")
        text = self.get_query_argument("date", None)
        try:
            day = dt.date.fromisoformat(text) if text else today()
        except ValueError:
            raise InvalidParameter("date : format AAAA-MM-JJ attendu.") from None
        frame = _run("agent_day", agent_ref=who.agent_ref, day=day)
        user = users.get(who.username)
        settings = get_runtime().settings
        tiles = settings.tiles_url
        return 200, {
            "agent_ref": who.agent_ref,
            "agent_name": user.agent_name if user else None,
            "date": day.isoformat(),
            "tiles_url": None if tiles.lower() == "off" else tiles,
            "settings": {"position_interval_s": settings.agent_position_interval_s,
                         "low_battery": settings.agent_low_battery},
            "position": positions.day_latest(who.agent_ref, day),
            "missions": [_mission(row, TZ) for row in export.records(frame)],
        }


def _mission(row: dict, tz) -> dict:
    """One row of the agent_day read as the phone app takes it: times with their offset (Conakry), money
    as integers, the last contact and the pending promise as nested objects (null when none)."""
    import pandas as pd

    def moment(value):
        return None if value is None else pd.Timestamp(value).tz_convert(tz).isoformat()

    contact = None
    if row["last_contact_at"] is not None:
        contact = {"at": moment(row["last_contact_at"]), "kind": row["last_contact_kind"],
                   "outcome": row["last_contact_outcome"]}
    promise = None
    if row["promise_amount"] is not None:
        promise = {"amount": int(row["promise_amount"]), "due_date": row["promise_due_date"],
                   "status": row["promise_status"]}
    return {
        "mission_ref": row["mission_ref"], "route_order": row["route_order"], "kind": row["kind"],
        "eta": moment(row["eta"]), "status": row["status"], "lease_ref": row["lease_ref"],
        "tenant_ref": row["tenant_ref"], "full_name": row["full_name"], "phone": row["phone"],
        "site_ref": row["site_ref"], "site_name": row["site_name"], "commune": row["commune"],
        "quartier": row["quartier"], "lat": row["lat"], "lon": row["lon"],
        "arrears": None if row["arrears"] is None else int(row["arrears"]),
        "last_contact": contact, "promise": promise,
    }


class SmsWebhookHandler(JSONHandler):
    """POST /api/sms/delivery and /api/sms/inbound: what the SMS gateway reports back, authenticated by the
    bearer token AKIG_SMS_WEBHOOK_TOKEN (404 while it is unset, 401 without it).

    * delivery: `{"id": "<the gateway's message id>", "status": "delivered" | "failed" | …, "error": …}`;
      200 `{"updated": true|false}` (false: no sent message has that id; nothing changes).
    * inbound: `{"from": "+224…", "text": "STOP"}`; 200 `{"opted_out": true|false}`: STOP (ARRÊT …) stops
      every reminder to that number for good; any other text is ignored."""

    route = "/api/sms/?"
    kind = "?"

    async def post(self) -> None:
        kind = self.kind
        expected = config.load().sms_webhook_token
        if not expected:
            self.write_error_json(404, "Adresse d'API inconnue.")
            return
        if self.rate_limited(self.request.remote_ip or "?"):
            return
        given = _bearer(self) or ""
        if not hmac.compare_digest(given.encode(), expected.encode()):
            self.set_header("WWW-Authenticate", 'Bearer realm="sms"')
            self.write_error_json(401, "Jeton de la passerelle SMS manquant ou invalide.")
            return
        body = self.json_object(4096)
        if body is None:
            return
        from akig_data.reminders import outbox

        def run():
            if kind == "delivery":
                return {"updated": outbox.record_delivery(body.get("id"), body.get("status"), body.get("error"))}
            sender, text = body.get("from"), body.get("text")
            if not isinstance(sender, str) or not isinstance(text, str):
                raise InvalidParameter("from et text : du texte est attendu.")
            return {"opted_out": outbox.receive_reply(sender, text[:500])}

        try:
            payload = await IOLoop.current().run_in_executor(None, run)
        except InvalidParameter as exc:
            self.write_error_json(400, str(exc))
            return
        except DatabaseUnavailable as exc:
            self.write_error_json(503, str(exc))
            return
        self.write_json(payload)


class SmsDeliveryHandler(SmsWebhookHandler):
    route, kind = "/api/sms/delivery", "delivery"


class SmsInboundHandler(SmsWebhookHandler):
    route, kind = "/api/sms/inbound", "inbound"


class ApiNotFoundHandler(JSONHandler):
    """Any other /api/ path: a JSON 404 (API clients never get an HTML page)."""

    route = "/api/?"

    def get(self, *_args) -> None:
        self.write_error_json(404, "Adresse d'API inconnue.")

    post = get


class MetricsHandler(RequestHandler):
    """GET /metrics: Prometheus text format, for the bearer of AKIG_METRICS_TOKEN only."""

    def get(self) -> None:
        expected = config.load().metrics_token
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
        from dashboards.server.metrics import payload

        body, content_type = payload()
        self.set_header("Content-Type", content_type)
        self.finish(body)


def routes() -> list[tuple]:
    return [
        (r"/api/health", HealthHandler),
        (r"/api/me", MeHandler),
        (r"/api/reads/([a-z_]+)", ReadHandler),
        (r"/api/(calls|visits|promises|payments)", WriteHandler),
        (r"/api/missions", MissionsHandler),
        (r"/api/missions/generate", GenerateMissionsHandler),
        (r"/api/tenants/([A-Za-z0-9._-]{1,64})/history", TenantHistoryHandler),
        (r"/api/stats/daily", DailyStatsHandler),
        (r"/api/agents/([A-Za-z0-9._-]{1,64})/performance", AgentPerformanceHandler),
        (r"/api/leaderboard", LeaderboardHandler),
        (r"/api/positions", PositionsHandler),
        (r"/api/map/late-sites", LateSitesHandler),
        (r"/api/agents/positions", AgentPositionsHandler),
        (r"/api/routes/optimize", RouteOptimizeHandler),
        (r"/api/agent/login", AgentLoginHandler),
        (r"/api/agent/logout", AgentLogoutHandler),
        (r"/api/agent/today", AgentTodayHandler),
        (r"/api/sms/delivery", SmsDeliveryHandler),
        (r"/api/sms/inbound", SmsInboundHandler),
        (r"/api/.*", ApiNotFoundHandler),
        (r"/metrics", MetricsHandler),
    ]

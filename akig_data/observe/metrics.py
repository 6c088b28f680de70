"""Prometheus metrics of the data layer and the server (exposed on /metrics).

With `akig serve --num-procs N` the processes share their values through prometheus_client's
multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set by the command before this module is imported):
counters and histograms add up, and each gauge says how its per-process values combine
(`multiprocess_mode`, ignored with one process).
"""

from prometheus_client import Counter, Gauge, Histogram

READ_SECONDS = Histogram(
    "akig_read_duration_seconds",
    "Time to answer a data-layer read, by read and by where the answer came from",
    ["read", "source"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
CACHE_REQUESTS = Counter(
    "akig_cache_requests_total",
    "Data-layer reads by cache outcome: hit, miss, wait (served by another caller's computation), "
    "fallback (Redis failed: straight to PostgreSQL), disabled (no cache configured)",
    ["read", "outcome"],
)
CACHE_FALLBACKS = Counter(
    "akig_cache_fallback_total",
    "Reads served straight from PostgreSQL because Redis failed or was unreachable",
    ["read"],
)
SQL_EXECUTIONS = Counter(
    "akig_read_sql_executions_total",
    "Times a read's SQL actually ran on PostgreSQL",
    ["read"],
)
CACHE_ERRORS = Counter(
    "akig_cache_errors_total",
    "Redis errors met by the data layer, by operation",
    ["operation"],
)
LOGIN_ATTEMPTS = Counter(
    "akig_login_attempts_total",
    "Login attempts by outcome: success, failure (wrong password, unknown user or wrong code), locked",
    ["outcome"],
)
LOCKOUTS = Counter(
    "akig_login_lockouts_total",
    "Usernames or addresses locked after too many failed logins",
)
API_REQUESTS = Counter(
    "akig_api_requests_total",
    "HTTP API requests by route and status",
    ["route", "status"],
)
POSITIONS = Counter(
    "akig_gps_fixes_total",
    "Agents' GPS fixes by outcome: stored, duplicate (already stored: a retried batch), refused (in a "
    "refused batch), pruned (older than the retention)",
    ["outcome"],
)
SCHEDULED_SECONDS = Histogram(
    "akig_scheduled_task_duration_seconds",
    "Time taken by a scheduled task's run",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300),
)
LIVE_FEED_POLLS = Counter(
    "akig_live_feed_polls_total",
    "Ticks of the live map's poller (one per server process, whatever the number of open maps), by what "
    "it had to read: version (only the Redis counter), positions (new fixes), database (Redis unavailable)",
    ["kind"],
)
ALERTS_ACTIVE = Gauge(
    "akig_alerts_active",
    "Open business alerts by rule and severity (set by the scheduled evaluation, every 5 minutes)",
    ["rule", "severity"],
    multiprocess_mode="mostrecent",
)
READ_TRANSFERS = Counter(
    "akig_read_transfers_total",
    "Reads' statements run on PostgreSQL, by how their rows came back: driver (a statement's first run in the "
    "process, or after its columns changed), copy (COPY through psycopg), adbc (a large answer through the ADBC "
    "driver), adbc_fallback (the ADBC driver could not give it: read again through psycopg)",
    ["way"],
)
READ_ROUTING = Counter(
    "akig_read_routing_total",
    "Reads' SQL sent to the read replica or kept on the primary (no replica configured: not counted)",
    ["target"],
)
HTTP_SECONDS = Histogram(
    "akig_http_request_duration_seconds",
    "Time to answer an HTTP request (pages, websockets' upgrade, /api/*, /metrics) by route, method and status",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
SESSIONS_LIVE = Gauge("akig_sessions_live", "Open Bokeh sessions (all apps)", multiprocess_mode="livesum")
SESSIONS_CREATED = Counter("akig_sessions_created_total", "Bokeh sessions opened since the server started")
DATABASE_UP = Gauge("akig_database_up", "1 when PostgreSQL answered this process's last health check",
                    multiprocess_mode="livemax")
CACHE_UP = Gauge("akig_cache_up", "1 when Redis answered this process's last health check (0 also when disabled)",
                 multiprocess_mode="livemax")


def _business(name: str, doc: str) -> Gauge:
    # Set by one process (the scheduled task's winner): the most recent value is the value.
    return Gauge(name, doc + " (refreshed every minute by a scheduled task)", multiprocess_mode="mostrecent")


ARREARS = _business("akig_arrears_gnf", "Total arrears today, all owners, in GNF")
LATE_LEASES = _business("akig_late_leases", "Leases with arrears today")
PROMISES_BROKEN_TODAY = _business("akig_promises_broken_today", "Promises due yesterday and not kept (broken today)")
PROMISES_DUE_TODAY = _business("akig_promises_due_today", "Promises falling due today")
COLLECTION_RATE_MONTH = _business("akig_collection_rate_month", "Collected / due since the 1st of the month")
COLLECTION_RATE_LAST_MONTH = _business("akig_collection_rate_last_month_same_day",
                                       "Collected / due last month, from the 1st to the same day")
AGENTS_ACTIVE = _business("akig_agents_active", "Agents with a GPS fix in the last 10 minutes")
AGENTS_WITH_MISSIONS = _business("akig_agents_with_missions_today", "Agents with missions planned today")
BUSINESS_REFRESHED = _business("akig_business_refresh_timestamp_seconds", "Unix time of the last business refresh")

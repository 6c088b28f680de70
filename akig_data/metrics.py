"""Prometheus metrics of the data layer (the server exposes them on /metrics)."""

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
)

"""Grafana provisioning and dashboards (ops/grafana), checked without a Grafana or a Prometheus.

* provisioning/datasources/prometheus.yml: one Prometheus datasource, uid `akig-prometheus`, the compose
  service's URL, default; provisioning/dashboards/akig.yml: a file provider reading the directory where
  docker-compose.yml mounts ops/grafana/dashboards.
* dashboards/*.json: each parses, has a uid (unique across the files), a title, unique panel ids, a gridPos
  and a unit on every panel, the `akig-prometheus` datasource on every panel (or on every target), and
  targets whose PromQL names only metrics that exist: the app's (APP_METRICS, from the metrics contract, also
  in akig_data/observe/metrics.py) or the exporters' (EXPORTER_METRICS, the standard names of node_exporter,
  postgres_exporter and redis_exporter, plus Prometheus's `up`). A panel querying a renamed or made-up metric
  shows "No data" forever; this test catches it instead.
* When `promtool` is on PATH, every expression is also parsed by it (Grafana's $__ variables replaced).

Pure Python (json, re, PyYAML), except that optional promtool check.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GRAFANA = REPO / "ops" / "grafana"
DATASOURCE_YML = GRAFANA / "provisioning" / "datasources" / "prometheus.yml"
PROVIDER_YML = GRAFANA / "provisioning" / "dashboards" / "akig.yml"
DASHBOARDS_DIR = GRAFANA / "dashboards"
DASHBOARD_FILES = ("system.json", "application.json", "business.json")
COMPOSE = REPO / "docker-compose.yml"
PROMETHEUS_YML = REPO / "ops" / "prometheus.yml"

DATASOURCE_UID = "akig-prometheus"
DATASOURCE_URL = "http://prometheus:9090"
DASHBOARDS_PATH = "/var/lib/grafana/dashboards"
PANEL_TYPES = {"timeseries", "stat", "gauge", "table"}
MIN_PANELS = 8

# The app's /metrics (docs: the metrics contract; source: akig_data/observe/metrics.py, dashboards/io/live_feed.py).
APP_METRICS = (
    "akig_read_duration_seconds",            # histogram {read, source}
    "akig_read_routing_total",               # {target}: replica | primary
    "akig_read_transfers_total",             # {way}: driver | copy | adbc | adbc_fallback
    "akig_cache_requests_total",             # {read, outcome}
    "akig_cache_fallback_total",             # {read}
    "akig_read_sql_executions_total",        # {read}
    "akig_cache_errors_total",               # {operation}
    "akig_login_attempts_total",             # {outcome}
    "akig_login_lockouts_total",
    "akig_api_requests_total",               # {route, status}
    "akig_gps_fixes_total",                  # {outcome}
    "akig_scheduled_task_duration_seconds",  # histogram {task}
    "akig_live_feed_polls_total",            # {kind}
    "akig_live_map_sessions",
    "akig_alerts_active",                    # {rule, severity}
    "akig_http_request_duration_seconds",    # histogram {route, method, status}
    "akig_sessions_live",
    "akig_sessions_created_total",
    "akig_database_up",
    "akig_cache_up",
    "akig_arrears_gnf",
    "akig_late_leases",
    "akig_promises_broken_today",
    "akig_promises_due_today",
    "akig_collection_rate_month",
    "akig_collection_rate_last_month_same_day",
    "akig_agents_active",
    "akig_agents_with_missions_today",
    "akig_business_refresh_timestamp_seconds",
)
APP_HISTOGRAMS = frozenset({
    "akig_read_duration_seconds",
    "akig_scheduled_task_duration_seconds",
    "akig_http_request_duration_seconds",
})
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")

# Exporter metrics the dashboards use (standard names; Prometheus's own `up` included). Every entry must be
# used by a dashboard (test_exporter_metrics_are_all_used), so that this list stays a true inventory.
EXPORTER_METRICS = frozenset({
    "up",
    # node_exporter
    "node_cpu_seconds_total",
    "node_memory_MemAvailable_bytes",
    "node_memory_MemTotal_bytes",
    "node_filesystem_avail_bytes",
    "node_filesystem_size_bytes",
    "node_load1",
    "node_load5",
    "node_load15",
    # postgres_exporter (pg_replication_lag_seconds: its replication collector, 0 on a primary)
    "pg_up",
    "pg_stat_activity_count",
    "pg_stat_activity_max_tx_duration",
    "pg_settings_max_connections",
    "pg_stat_database_xact_commit",
    "pg_stat_database_xact_rollback",
    "pg_stat_database_deadlocks",
    "pg_replication_lag_seconds",
    # redis_exporter
    "redis_up",
    "redis_memory_used_bytes",
    "redis_memory_max_bytes",
    "redis_evicted_keys_total",
    "redis_connected_clients",
    "redis_keyspace_hits_total",
    "redis_keyspace_misses_total",
})

# PromQL functions and aggregation operators (a name followed by "(" is one of these, never a metric).
PROMQL_FUNCTIONS = frozenset({
    # aggregation operators
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk",
    "quantile", "limitk", "limit_ratio",
    # functions
    "abs", "absent", "absent_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh", "avg_over_time",
    "ceil", "changes", "clamp", "clamp_max", "clamp_min", "cos", "cosh", "count_over_time", "day_of_month",
    "day_of_week", "day_of_year", "days_in_month", "deg", "delta", "deriv", "double_exponential_smoothing",
    "exp", "first_over_time", "floor", "histogram_avg", "histogram_count", "histogram_fraction",
    "histogram_quantile", "histogram_stddev", "histogram_stdvar", "histogram_sum", "holt_winters", "hour",
    "idelta", "increase", "info", "irate", "label_join", "label_replace", "last_over_time", "ln", "log10",
    "log2", "mad_over_time", "max_over_time", "min_over_time", "minute", "month", "pi", "predict_linear",
    "present_over_time", "quantile_over_time", "rad", "rate", "resets", "round", "scalar", "sgn", "sin",
    "sinh", "sort", "sort_by_label", "sort_by_label_desc", "sort_desc", "sqrt", "stddev_over_time",
    "stdvar_over_time", "sum_over_time", "tan", "tanh", "time", "timestamp", "vector", "year",
    # @ modifier
    "start", "end",
})
# Binary operators and modifiers spelled as words; their label lists are removed before tokenising.
PROMQL_KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
                             "group_left", "group_right", "inf", "nan"})

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_COMMENT = re.compile(r"#[^\n]*")
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.IGNORECASE)
_GRAFANA_VAR = re.compile(r"\$\{[^}]*\}|\$\w+|\[\[\w+\]\]")
# An identifier not glued to a number, a dot or another identifier (so "1e3", "5m", "0.95" give none).
_IDENT = re.compile(r"(?<![\w.:$])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects.

    Strips string literals, comments, label matchers `{...}`, ranges and subqueries `[...]`, grouping label
    lists (`by (...)`, `without (...)`, `on (...)`, `ignoring (...)`, `group_left (...)`, `group_right (...)`)
    and Grafana variables, then keeps the identifiers that are neither a function/aggregation call nor a
    keyword. A selector written `{__name__="x"}` is also read.
    """
    names = set(re.findall(r'__name__\s*=\s*"([a-zA-Z_:][a-zA-Z0-9_:]*)"', expr))
    text = _STRING.sub('""', expr)
    text = _COMMENT.sub(" ", text)
    text = _GRAFANA_VAR.sub(" ", text)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    for match in _IDENT.finditer(text):
        name, call = match.group(1), match.group(2)
        if call and name.lower() in PROMQL_FUNCTIONS | PROMQL_KEYWORDS:
            continue
        if name.lower() in PROMQL_KEYWORDS:
            continue
        names.add(name)
    return names


def known_metric(name: str) -> bool:
    if name in APP_METRICS and name not in APP_HISTOGRAMS:  # a histogram's bare name is no series
        return True
    if name in EXPORTER_METRICS:
        return True
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix) and name[: -len(suffix)] in APP_HISTOGRAMS:
            return True
    return False


def unknown_metrics(expr: str) -> set[str]:
    return {name for name in metric_names(expr) if not known_metric(name)}


# ------------------------------------------------------------------------------------------------ helpers
def _yaml():
    return pytest.importorskip("yaml", reason="PyYAML is not installed (it comes with schemathesis, a test extra)")


def _load_dashboard(name: str) -> dict:
    return json.loads((DASHBOARDS_DIR / name).read_text(encoding="utf-8"))


def _panels(container: dict):
    """Every panel, rows' nested panels included (rows themselves excluded)."""
    for panel in container.get("panels", []):
        if panel.get("type") == "row":
            yield from _panels(panel)
        else:
            yield panel


def _all_exprs():
    for name in DASHBOARD_FILES:
        for panel in _panels(_load_dashboard(name)):
            for target in panel.get("targets", []):
                yield name, panel, target


@pytest.fixture(scope="module", params=DASHBOARD_FILES)
def dashboard(request) -> tuple[str, dict]:
    return request.param, _load_dashboard(request.param)


# ------------------------------------------------------------------------------- the extraction itself
@pytest.mark.parametrize("expr, expected", [
    ("up", {"up"}),
    ('up{job="akig"} == 0', {"up"}),
    ("sum(rate(akig_not_a_metric[5m]))", {"akig_not_a_metric"}),
    ('histogram_quantile(0.95, sum by (route, le) (rate(akig_http_request_duration_seconds_bucket'
     '{route!~".*/ws|/metrics"}[$__rate_interval])))', {"akig_http_request_duration_seconds_bucket"}),
    ("sum by (job, instance) (pg_stat_activity_count)\n  / on (job, instance) group_left (datname)"
     " max by (job, instance) (pg_settings_max_connections) > 0.8",
     {"pg_stat_activity_count", "pg_settings_max_connections"}),
    ("sum without (cpu, mode) (rate(node_cpu_seconds_total{mode=\"idle\"}[5m] offset 1d)) * 1e3",
     {"node_cpu_seconds_total"}),
    ('label_replace(time() - max(akig_business_refresh_timestamp_seconds), "dst", "$1", "src", "(.*)")',
     {"akig_business_refresh_timestamp_seconds"}),
    ("(sum(increase(x_total[20m])) or vector(0)) < 1 and on () max(up) == bool 1",
     {"x_total", "up"}),
    ("max_over_time(akig_sessions_live[1h:5m]) # a comment naming not_a_metric", {"akig_sessions_live"}),
    ('{__name__="akig_cache_up"}', {"akig_cache_up"}),
])
def test_metric_names_extraction(expr, expected):
    assert metric_names(expr) == expected


def test_unknown_metrics_are_rejected():
    assert unknown_metrics('sum by (read) (rate(akig_not_a_metric{read="x"}[5m]))') == {"akig_not_a_metric"}
    assert unknown_metrics("rate(akig_read_duration_seconds[5m])") == {"akig_read_duration_seconds"}
    assert unknown_metrics("akig_arrears_gnf_bucket") == {"akig_arrears_gnf_bucket"}
    assert unknown_metrics("node_memory_MemFree_bytes") == {"node_memory_MemFree_bytes"}
    assert unknown_metrics(
        'histogram_quantile(0.5, sum by (le) (rate(akig_read_duration_seconds_bucket{source="cache"}[5m])))'
        " + akig_http_request_duration_seconds_sum / akig_http_request_duration_seconds_count"
        " + max(akig_arrears_gnf) + redis_up") == set()


# ---------------------------------------------------------------------------------------- provisioning
def test_datasource_provisioning():
    config = _yaml().safe_load(DATASOURCE_YML.read_text(encoding="utf-8"))
    assert config["apiVersion"] == 1
    datasources = config["datasources"]
    assert len(datasources) == 1
    ds = datasources[0]
    assert ds["uid"] == DATASOURCE_UID
    assert ds["type"] == "prometheus"
    assert ds["url"] == DATASOURCE_URL
    assert ds["isDefault"] is True
    assert ds.get("access", "proxy") == "proxy"
    assert ds.get("name")


def test_dashboard_provider_provisioning():
    config = _yaml().safe_load(PROVIDER_YML.read_text(encoding="utf-8"))
    assert config["apiVersion"] == 1
    providers = config["providers"]
    assert len(providers) == 1
    provider = providers[0]
    assert provider["type"] == "file"
    assert provider["folder"] == "AKIG"
    assert provider["options"]["path"] == DASHBOARDS_PATH
    assert provider.get("name")


def test_compose_mounts_what_grafana_reads():
    """docker-compose.yml mounts the provisioning at Grafana's default place and the dashboards where the
    provider looks (skipped when there is no compose file or no grafana service)."""
    if not COMPOSE.exists():
        pytest.skip("no docker-compose.yml")
    grafana = (_yaml().safe_load(COMPOSE.read_text(encoding="utf-8")).get("services") or {}).get("grafana")
    if not grafana:
        pytest.skip("no grafana service in docker-compose.yml")
    mounts = {}
    for volume in grafana.get("volumes", []):
        if isinstance(volume, dict):
            mounts[volume.get("target")] = str(volume.get("source", ""))
        else:
            source, target = str(volume).split(":")[:2]
            mounts[target] = source
    assert Path(mounts["/etc/grafana/provisioning"]).as_posix() == "ops/grafana/provisioning"
    assert Path(mounts[DASHBOARDS_PATH]).as_posix() == "ops/grafana/dashboards"


# ------------------------------------------------------------------------------------------ dashboards
def test_dashboard_files_are_the_expected_ones():
    assert sorted(p.name for p in DASHBOARDS_DIR.glob("*.json")) == sorted(DASHBOARD_FILES)


def test_dashboard_uids_are_unique():
    uids = [_load_dashboard(name)["uid"] for name in DASHBOARD_FILES]
    assert len(set(uids)) == len(uids), uids


def test_dashboard_model(dashboard):
    name, model = dashboard
    assert isinstance(model.get("uid"), str) and re.fullmatch(r"[A-Za-z0-9_-]{1,40}", model["uid"]), name
    assert model.get("title"), name
    assert isinstance(model.get("schemaVersion"), int) and model["schemaVersion"] >= 36, name
    assert model.get("id") is None, f"{name}: a provisioned dashboard must not carry a database id"
    panels = list(_panels(model))
    assert len(panels) >= MIN_PANELS, f"{name}: {len(panels)} panels"
    ids = [p.get("id") for p in panels] + [p.get("id") for p in model.get("panels", []) if p.get("type") == "row"]
    assert all(isinstance(i, int) for i in ids), name
    assert len(set(ids)) == len(ids), f"{name}: duplicate panel ids"


def test_panels(dashboard):
    name, model = dashboard
    for panel in _panels(model):
        where = f"{name}: panel {panel.get('id')} {panel.get('title')!r}"
        assert panel.get("title"), where
        assert panel.get("type") in PANEL_TYPES, where
        grid = panel.get("gridPos") or {}
        assert all(isinstance(grid.get(k), int) for k in ("h", "w", "x", "y")), where
        assert grid["w"] >= 1 and grid["x"] + grid["w"] <= 24, where
        assert panel.get("fieldConfig", {}).get("defaults", {}).get("unit"), f"{where}: no unit"
        targets = panel.get("targets") or []
        assert targets, f"{where}: no target"
        ref_ids = [t.get("refId") for t in targets]
        assert all(ref_ids) and len(set(ref_ids)) == len(ref_ids), where
        panel_uid = (panel.get("datasource") or {}).get("uid")
        for target in targets:
            uid = (target.get("datasource") or {}).get("uid") or panel_uid
            assert uid == DATASOURCE_UID, f"{where}: datasource {uid!r}"
            assert (target.get("datasource") or panel.get("datasource") or {}).get("type") == "prometheus", where
            assert isinstance(target.get("expr"), str) and target["expr"].strip(), where
            assert "legendFormat" in target, where


def test_panels_do_not_overlap(dashboard):
    name, model = dashboard
    cells = {}
    for panel in _panels(model):
        g = panel["gridPos"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{name}: panels {cells.get((x, y))} and {panel['id']} overlap"
                cells[(x, y)] = panel["id"]


def test_every_expression_names_known_metrics():
    problems = []
    for name, panel, target in _all_exprs():
        names = metric_names(target["expr"])
        if not names:
            problems.append(f"{name}: {panel['title']!r} {target['refId']}: no metric in {target['expr']!r}")
        unknown = {n for n in names if not known_metric(n)}
        if unknown:
            problems.append(f"{name}: {panel['title']!r} {target['refId']}: unknown {sorted(unknown)}")
    assert not problems, "\n".join(problems)


def test_app_metrics_are_all_shown():
    def base(name: str) -> str:
        for suffix in HISTOGRAM_SUFFIXES:
            if name.endswith(suffix) and name[: -len(suffix)] in APP_HISTOGRAMS:
                return name[: -len(suffix)]
        return name

    used = {base(n) for _, _, t in _all_exprs() for n in metric_names(t["expr"])}
    missing = [m for m in APP_METRICS if m not in used]
    assert not missing, f"app metrics on no dashboard: {missing}"


def test_exporter_metrics_are_all_used():
    used = {n for _, _, t in _all_exprs() for n in metric_names(t["expr"])}
    assert sorted(EXPORTER_METRICS - used) == []


def test_app_metrics_match_the_code():
    """APP_METRICS is copied from the contract; the code must declare the same names."""
    sources = [REPO / "akig_data" / "metrics.py", REPO / "dashboards" / "live_feed.py"]
    declared = set()
    for source in sources:
        if source.exists():
            declared |= set(re.findall(r'(?:Counter|Gauge|Histogram|_business)\(\s*"(akig_[a-z0-9_]+)"',
                                       source.read_text(encoding="utf-8")))
    if not declared:
        pytest.skip("no metrics module found")
    assert sorted(set(APP_METRICS) - declared) == []
    assert sorted(declared - set(APP_METRICS)) == []   # a new metric goes on a dashboard too


def test_job_matchers_name_scrape_jobs():
    """`job="..."` matchers in the dashboards name jobs that ops/prometheus.yml scrapes."""
    config = _yaml().safe_load(PROMETHEUS_YML.read_text(encoding="utf-8"))
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    for name, panel, target in _all_exprs():
        for job in re.findall(r'\bjob\s*=\s*"([^"]*)"', target["expr"]):
            assert job in jobs, f"{name}: {panel['title']!r}: job {job!r} is not scraped"


def test_expressions_parse_with_promtool(tmp_path):
    promtool = shutil.which("promtool")
    if not promtool:
        pytest.skip("promtool is not installed")
    yaml = _yaml()
    rules = []
    for i, (name, panel, target) in enumerate(_all_exprs()):
        expr = (target["expr"].replace("$__rate_interval", "1m").replace("$__interval", "15s")
                .replace("$__range", "1h"))
        rules.append({"record": f"akig:grafana_check_{i}", "expr": expr})
    path = tmp_path / "grafana_exprs.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "grafana", "rules": rules}]}), encoding="utf-8")
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr

"""The monitoring configuration in ops/: Prometheus's config, the alert rules, their promtool unit tests
and the runbooks the alerts point to.

* promtool (Debian package `prometheus`, /usr/bin/promtool) checks the config and the rules and runs the
  unit tests; these tests skip, saying so, when it is not installed.
* Pure-Python checks always run: every rule has a severity, a summary, a description and a runbook_url
  whose file and heading exist; every rule fires in at least one promtool test case; every app metric a
  rule uses is one the app exports (APP_METRICS, the metrics contract) and every other metric is a
  known exporter metric (EXPORTER_METRICS), so that a typo cannot make a rule silently match nothing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.ops.test_grafana import APP_METRICS as GRAFANA_APP_METRICS

ROOT = Path(__file__).resolve().parents[2]
OPS = ROOT / "ops"
PROMETHEUS_YML = OPS / "prometheus.yml"
RULES_YML = OPS / "alert_rules.yml"
# promtool evaluates every rule at every step from time 0: the rules with windows of days (7-day arrears)
# and the working-hours rules are tested in a file stepping every 15 minutes instead of every minute.
RULE_TEST_FILES = (OPS / "alert_rules.test.yml", OPS / "alert_rules.long.test.yml")
RUNBOOKS = OPS / "runbooks"
RUNBOOK_URL_PREFIX = "https://github.com/akig/akig/blob/main/ops/runbooks/"
TOKEN_FILE = "/etc/prometheus/akig_metrics_token"

REQUIRED_RUNBOOKS = ("database-down.md", "cache-down.md", "high-api-error-rate.md", "critical-arrears.md",
                     "low-agent-performance.md", "gps-ingestion-stopped.md")
RUNBOOK_SECTIONS = ("Symptoms", "Diagnosis", "Recovery", "Prevention")
REQUIRED_GROUPS = ("app", "postgres", "redis", "node", "business")
SEVERITIES = {"critical", "warning", "info"}

# What the app's /metrics exports: one list for the rules and the dashboards (tests/ops/test_grafana.py
# checks it against the code). Histograms also appear with their _bucket, _sum and _count series.
APP_METRICS = frozenset(GRAFANA_APP_METRICS)
APP_HISTOGRAMS = frozenset({"akig_read_duration_seconds", "akig_scheduled_task_duration_seconds",
                            "akig_http_request_duration_seconds"})
# Standard metrics of the exporters Prometheus scrapes (postgres_exporter, redis_exporter, node_exporter;
# pg_replication_lag_seconds comes from postgres_exporter's replication collector) and Prometheus's own `up`.
EXPORTER_METRICS = frozenset({
    "up",
    "pg_up", "pg_stat_activity_count", "pg_settings_max_connections", "pg_stat_activity_max_tx_duration",
    "pg_replication_lag_seconds", "pg_stat_database_deadlocks",
    "redis_up", "redis_memory_used_bytes", "redis_memory_max_bytes", "redis_evicted_keys_total",
    "redis_connected_clients",
    "node_cpu_seconds_total", "node_memory_MemAvailable_bytes", "node_memory_MemTotal_bytes",
    "node_filesystem_avail_bytes", "node_filesystem_size_bytes", "node_load1",
})
PROMQL_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
                             "unless", "bool", "offset", "inf", "nan"})


def _load(path: Path):
    with path.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def _rules() -> list[dict]:
    return [rule for group in _load(RULES_YML)["groups"] for rule in group["rules"] if "alert" in rule]


RULES = _rules()
RULE_IDS = [rule["alert"] for rule in RULES]


# -- GitHub's heading anchors ------------------------------------------------------------------------
def github_slug(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation removed (letters, digits,
    spaces, hyphens and underscores kept), each space a hyphen."""
    text = re.sub(r"`|\*\*|__", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def headings(markdown: str) -> list[str]:
    """ATX headings outside fenced code blocks."""
    found, fenced = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        match = re.match(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match and not fenced:
            found.append(match.group(1))
    return found


def anchors(markdown: str) -> set[str]:
    """Every anchor of the file, with GitHub's -1, -2 … suffixes for repeated headings."""
    seen: dict[str, int] = {}
    result = set()
    for heading in headings(markdown):
        slug = github_slug(heading)
        if slug in seen:
            seen[slug] += 1
            slug = f"{slug}-{seen[slug]}"
        else:
            seen[slug] = 0
        result.add(slug)
    return result


def test_github_slug():
    assert github_slug("AkigAppDown") == "akigappdown"
    assert github_slug("Symptoms") == "symptoms"
    assert github_slug("Runbook: PostgreSQL is down (or unreachable)!") == "runbook-postgresql-is-down-or-unreachable"
    assert github_slug("CPU, memory & disk_usage") == "cpu-memory--disk_usage"
    assert github_slug("`akig query` et les impayés") == "akig-query-et-les-impayés"
    assert anchors("# A\n```sh\n# not a heading\n```\n## A\n") == {"a", "a-1"}


# -- promtool ------------------------------------------------------------------------------------------
def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool is not on PATH (install Debian's `prometheus` package: /usr/bin/promtool)")
    return path


def _run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def test_promtool_check_config(tmp_path):
    """`promtool check config` also checks that the rule files and the token file exist: check a copy
    of ops/ whose token file is a dummy one in the temporary folder."""
    promtool = _promtool()
    config = PROMETHEUS_YML.read_text(encoding="utf-8")
    setting = f"credentials_file: {TOKEN_FILE}"
    assert config.count(setting) == 1
    token = tmp_path / "akig_metrics_token"
    token.write_text("dummy-token\n", encoding="utf-8")
    (tmp_path / "prometheus.yml").write_text(config.replace(setting, f"credentials_file: {token}"),
                                             encoding="utf-8")
    shutil.copy(RULES_YML, tmp_path / RULES_YML.name)
    result = _run(promtool, "check", "config", str(tmp_path / "prometheus.yml"))
    assert "SUCCESS" in result.stdout + result.stderr


def test_promtool_check_rules():
    result = _run(_promtool(), "check", "rules", str(RULES_YML))
    assert f"SUCCESS: {len(RULES)} rules found" in result.stdout + result.stderr


def test_promtool_unit_tests():
    result = _run(_promtool(), "test", "rules", *(str(p) for p in RULE_TEST_FILES))
    assert "FAILED" not in result.stdout + result.stderr


# -- prometheus.yml ------------------------------------------------------------------------------------
def test_prometheus_config_scrapes_every_service():
    config = _load(PROMETHEUS_YML)
    assert config["global"]["scrape_interval"] == "15s"
    assert config["global"]["evaluation_interval"] == "15s"
    assert config["rule_files"] == ["alert_rules.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    targets = {name: [t for sc in job["static_configs"] for t in sc["targets"]] for name, job in jobs.items()}
    assert targets == {
        "akig": ["app:5006"],
        "postgres": ["postgres-exporter:9187"],
        "redis": ["redis-exporter:9121"],
        "node": ["node-exporter:9100"],
        "prometheus": ["localhost:9090"],
    }
    assert jobs["akig"]["metrics_path"] == "/metrics"
    assert jobs["akig"]["authorization"] == {"type": "Bearer", "credentials_file": TOKEN_FILE}


# -- the rules -----------------------------------------------------------------------------------------
def test_rule_groups_and_count():
    groups = _load(RULES_YML)["groups"]
    names = [g["name"] for g in groups]
    assert set(REQUIRED_GROUPS) <= set(names), names
    assert len(RULES) >= 20
    assert len(set(RULE_IDS)) == len(RULE_IDS), "alert names must be unique"
    assert all("record" not in r for g in groups for r in g["rules"]), "no recording rules expected here"


@pytest.mark.parametrize("rule", RULES, ids=RULE_IDS)
def test_rule_labels_and_annotations(rule):
    assert rule.get("labels", {}).get("severity") in SEVERITIES
    annotations = rule.get("annotations", {})
    for key in ("summary", "description", "runbook_url"):
        assert annotations.get(key, "").strip(), f"{rule['alert']} has no {key}"
    assert re.fullmatch(r"[A-Z][A-Za-z0-9]+", rule["alert"])


@pytest.mark.parametrize("rule", RULES, ids=RULE_IDS)
def test_runbook_url_points_to_an_existing_heading(rule):
    url = rule["annotations"]["runbook_url"]
    assert url.startswith(RUNBOOK_URL_PREFIX), url
    path, sep, anchor = url[len(RUNBOOK_URL_PREFIX):].partition("#")
    assert sep and anchor, f"{url} has no #anchor"
    runbook = RUNBOOKS / path
    assert runbook.is_file(), f"{url}: no file ops/runbooks/{path}"
    assert anchor in anchors(runbook.read_text(encoding="utf-8")), f"{url}: no heading with anchor #{anchor}"


def _metric_names(expr: str) -> set[str]:
    """Metric names of a PromQL expression: identifiers outside label matchers, strings, grouping
    clauses and ranges, that are neither functions nor keywords."""
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)                # strings
    text = re.sub(r"\{[^}]*\}", "", text)                           # label matchers
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)                          # ranges and subqueries
    names = set()
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?", text):
        name, call = match.groups()
        if call or name.lower() in PROMQL_KEYWORDS:
            continue
        names.add(name)
    return names


def test_metric_names_parser():
    assert _metric_names('sum by (route) (rate(akig_api_requests_total{status=~"5.."}[5m])) / on () '
                         'max(up{job="akig"}) > 0.1 and foo offset 7d') == {"akig_api_requests_total", "up", "foo"}


@pytest.mark.parametrize("rule", RULES, ids=RULE_IDS)
def test_rule_uses_known_metrics_only(rule):
    names = _metric_names(rule["expr"])
    assert names, f"{rule['alert']}: no metric found in its expression"
    for name in names:
        if name.startswith("akig_"):
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            assert name in APP_METRICS or (base in APP_HISTOGRAMS and base != name), \
                f"{rule['alert']} uses {name}, which the app does not export"
        else:
            assert name in EXPORTER_METRICS, f"{rule['alert']} uses {name}, not a known exporter metric"


# -- the promtool unit tests ---------------------------------------------------------------------------
def _test_cases():
    for path in RULE_TEST_FILES:
        for group in _load(path)["tests"]:
            for case in group.get("alert_rule_test", []):
                yield path, case


def test_rule_test_files_test_the_rules_file():
    for path in RULE_TEST_FILES:
        assert _load(path)["rule_files"] == [RULES_YML.name], path


def test_every_rule_fires_in_a_promtool_test():
    fired = {case["alertname"] for _, case in _test_cases() if case.get("exp_alerts")}
    missing = sorted(set(RULE_IDS) - fired)
    assert not missing, f"rules without a promtool test case where they fire: {missing}"


def test_promtool_tests_name_existing_rules():
    """A test of a misspelt alert name expecting nothing would pass without testing anything."""
    unknown = sorted({f"{path.name}: {case['alertname']}" for path, case in _test_cases()
                      if case["alertname"] not in RULE_IDS})
    assert not unknown, unknown


def test_expected_alerts_carry_the_rule_labels_and_runbook():
    rules = {rule["alert"]: rule for rule in RULES}
    for path, case in _test_cases():
        rule = rules[case["alertname"]]
        for alert in case.get("exp_alerts") or []:
            for key, value in rule.get("labels", {}).items():
                assert alert.get("exp_labels", {}).get(key) == value, (path.name, case["alertname"], key)
            assert alert["exp_annotations"]["runbook_url"] == rule["annotations"]["runbook_url"]


# -- the runbooks --------------------------------------------------------------------------------------
def _runbook_files() -> list[Path]:
    return sorted(p for p in RUNBOOKS.glob("*.md") if p.name != "README.md")


def test_required_runbooks_exist():
    for name in REQUIRED_RUNBOOKS:
        assert (RUNBOOKS / name).is_file(), name
    assert (RUNBOOKS / "README.md").is_file()


@pytest.mark.parametrize("path", _runbook_files(), ids=lambda p: p.name)
def test_runbook_sections(path):
    text = path.read_text(encoding="utf-8")
    second_level = [m.group(1) for m in re.finditer(r"^## (.+)$", text, flags=re.M)]
    for section in RUNBOOK_SECTIONS:
        assert section in second_level, f"{path.name} has no '## {section}' section"
    assert [s for s in second_level if s in RUNBOOK_SECTIONS] == list(RUNBOOK_SECTIONS), \
        f"{path.name}: sections out of order"
    # Every runbook is reached by at least one alert.
    assert any(rule["annotations"]["runbook_url"].startswith(RUNBOOK_URL_PREFIX + path.name + "#")
               for rule in RULES), f"no alert leads to {path.name}"


def test_runbook_links_resolve():
    """Relative links between runbooks (file.md, file.md#anchor) point at existing files and headings."""
    for path in sorted(RUNBOOKS.glob("*.md")):
        for target in re.findall(r"\]\(([^)\s]+)\)", path.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+://", target):
                continue
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part) if file_part else path
            assert linked.is_file(), f"{path.name}: broken link {target}"
            if anchor:
                assert anchor in anchors(linked.read_text(encoding="utf-8")), f"{path.name}: broken anchor {target}"


def test_runbook_index_lists_every_runbook_and_alert():
    index = (RUNBOOKS / "README.md").read_text(encoding="utf-8")
    for path in _runbook_files():
        assert f"]({path.name})" in index, f"README.md does not list {path.name}"
    for rule in RULES:
        runbook = rule["annotations"]["runbook_url"][len(RUNBOOK_URL_PREFIX):].partition("#")[0]
        row = next((line for line in index.splitlines() if f"]({runbook})" in line), "")
        assert f"`{rule['alert']}`" in row, f"README.md does not list {rule['alert']} on the row of {runbook}"

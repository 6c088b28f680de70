"""The implementation against docs/openapi.yaml (schemathesis): generated requests to every operation, as
a manager with a token, on a server of its own; no 5xx, documented status codes and content types, and
responses that match their schemas."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from akig_data import runtime
from akig_data.writes import users
from tests.conftest import settings_for
from tests.serving import seeded_server

SPEC = Path(__file__).resolve().parents[3] / "docs" / "openapi.yaml"
schema = schemathesis.openapi.from_path(SPEC)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def api_server(databases, seeded_template, redis_url, tmp_path_factory):
    with seeded_server(databases, seeded_template, redis_url, tmp_path_factory.mktemp("oas"), "oas") as (base, url):
        runtime.configure(settings_for(url, redis_url))
        token = users.rotate_token("t-manager", actor="test")
        runtime.reset()
        yield base, token


def test_every_api_route_is_documented():
    import re

    import yaml

    from dashboards.server.api import routes

    documented = set(yaml.safe_load(SPEC.read_text(encoding="utf-8"))["paths"])
    for pattern, _handler in routes():
        if not pattern.startswith("/api/") or pattern.endswith(".*"):
            continue  # /metrics is for Prometheus, not for API clients; /api/.* is the JSON 404
        alternatives = re.fullmatch(r"/api/\(([a-z|]+)\)", pattern)
        if alternatives:
            assert {f"/api/{name}" for name in alternatives.group(1).split("|")} <= documented
            continue
        templated = re.escape(re.sub(r"\([^)]*\)", "@", pattern)).replace("@", "{[a-z_]+}")
        assert any(re.fullmatch(templated, path) for path in documented), pattern


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_matches_its_document(case, api_server):
    base, token = api_server
    case.call_and_validate(base_url=base, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)

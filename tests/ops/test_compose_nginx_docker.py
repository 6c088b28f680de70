"""The deployment files, checked without a Docker engine.

* docker-compose.yml against the Compose Specification's JSON schema, and its structure (the contract's service
  names, healthchecks, restart policies, named volumes, every ${VAR} documented in .env.example, the app
  waiting for healthy PostgreSQL and Redis, Prometheus's token file where ops/prometheus.yml reads it).
* ops/nginx/akig.conf with `nginx -t`, then served for real on loopback ports in front of two echo upstreams:
  the HTTPS redirect, the security headers, the proxy and websocket headers, sticky sessions on the `user`
  cookie, the /login rate limit.
* Dockerfile and ops/docker/entrypoint.sh: `bash -n`, every COPY'd path exists, and every `akig` subcommand
  and flag the entrypoint uses appears in `akig <subcommand> --help`.

The schema: ops/compose-spec.json is a verbatim copy of schema/compose-spec.json from the compose-spec/
compose-spec repository (commit 170098ba07d9f53c383a41bfd4c5166b0a4529a6, Apache License 2.0), so that a fresh
clone can validate offline. AKIG_COMPOSE_SCHEMA overrides it; ../shared/schemas/compose-spec.json (next to the
repository) is the fallback. Skipped, with the reason, when none is there, when `nginx`/`openssl` are missing
(CI installs Debian's nginx), or when jsonschema/PyYAML are not installed.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import json
import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
NGINX_CONF = REPO / "ops" / "nginx" / "akig.conf"
DOCKERFILE = REPO / "Dockerfile"
ENTRYPOINT = REPO / "ops" / "docker" / "entrypoint.sh"
PROMETHEUS_YML = REPO / "ops" / "prometheus.yml"

# The compose services, as docs/how-to/deploy-with-compose.md names them
SERVICES = {"app", "nginx", "postgres", "redis", "prometheus", "grafana",
            "postgres-exporter", "redis-exporter", "node-exporter"}

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message}, ${VAR?message}, ${VAR:+alt}; "$$" is a literal "$".
_INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}")
_BARE = re.compile(r"(?<!\$)\$([A-Za-z_][A-Za-z0-9_]*)")


def _yaml():
    return pytest.importorskip("yaml", reason="PyYAML is not installed (it comes with schemathesis, a test extra)")


@pytest.fixture(scope="module")
def compose() -> dict:
    return _yaml().safe_load(COMPOSE.read_text())


def _compose_text_without_comments() -> str:
    return "\n".join(line for line in COMPOSE.read_text().splitlines() if not line.lstrip().startswith("#"))


def _env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f".env.example: not NAME=value: {line!r}"
            values[name.strip()] = value.strip()
    return values


# --- docker-compose.yml ---------------------------------------------------------------------------------------

def _schema_path() -> Path | None:
    candidates = []
    if os.environ.get("AKIG_COMPOSE_SCHEMA"):
        candidates.append(Path(os.environ["AKIG_COMPOSE_SCHEMA"]))
    candidates += [REPO / "ops" / "compose-spec.json", REPO.parent / "shared" / "schemas" / "compose-spec.json"]
    return next((path for path in candidates if path.is_file()), None)


def test_compose_file_matches_the_compose_specification(compose):
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed (it comes with schemathesis)")
    path = _schema_path()
    if path is None:
        pytest.skip("no Compose Specification schema: set AKIG_COMPOSE_SCHEMA, or restore ops/compose-spec.json")
    schema = json.loads(path.read_text())
    # The schema says draft-07 with an https URL that jsonschema does not recognise: name the draft.
    validator = jsonschema.Draft7Validator(schema)
    errors = [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(compose)]
    assert not errors, "docker-compose.yml does not match the Compose Specification:\n" + "\n".join(errors)
    # The validator does reject what the specification forbids (a misspelt service key).
    broken = json.loads(json.dumps(compose))
    broken["services"]["app"]["healthcheckk"] = {}
    assert list(validator.iter_errors(broken))
    assert "version" not in compose, "the Compose Specification has no `version:` (obsolete)"


def test_services_are_the_contracts(compose):
    assert set(compose["services"]) == SERVICES


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_has_a_healthcheck_and_a_restart_policy(compose, name):
    service = compose["services"][name]
    check = service.get("healthcheck") or {}
    assert not check.get("disable"), f"{name}: healthcheck disabled"
    test = check.get("test")
    assert test and (isinstance(test, str) or test[0] in ("CMD", "CMD-SHELL")), f"{name}: no healthcheck test"
    assert service.get("restart") in ("always", "unless-stopped", "on-failure"), f"{name}: no restart policy"
    if "image" in service and name != "app":
        image = service["image"]
        assert ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest"), f"{name}: pin the image ({image})"


def test_app_waits_for_healthy_postgres_and_redis(compose):
    depends = compose["services"]["app"]["depends_on"]
    for name in ("postgres", "redis"):
        assert depends[name]["condition"] == "service_healthy", f"app must wait for a healthy {name}"
    assert compose["services"]["app"]["build"]["context"] == "."


def _volume_sources(compose) -> list[tuple[str, str]]:
    found = []
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source", "")
            found.append((name, source))
    return found


def test_named_volumes_are_declared_and_used(compose):
    declared = set(compose.get("volumes") or {})
    named = {source for _, source in _volume_sources(compose)
             if source and not source.startswith((".", "/", "~", "$"))}
    assert named, "no named volume"
    assert named <= declared, f"volumes used but not declared: {sorted(named - declared)}"
    assert declared <= named, f"volumes declared but unused: {sorted(declared - named)}"
    for name in ("postgres", "redis", "app", "prometheus", "grafana"):
        assert any(s == name and src in declared for s, src in _volume_sources(compose)), f"{name}: no named volume"


def test_every_variable_is_in_env_example(compose):
    text = _compose_text_without_comments()
    bare = set(_BARE.findall(text))
    assert not bare, f"use ${{VAR}} (or $$ for a literal $): {sorted(bare)}"
    used = {m.group(1) for m in _INTERPOLATION.finditer(text)}
    used |= {s["environment"] for s in (compose.get("secrets") or {}).values() if "environment" in s}
    documented = _env_example()
    missing = used - set(documented)
    assert not missing, f"variables used by docker-compose.yml but not in .env.example: {sorted(missing)}"
    unused = set(documented) - used
    assert not unused, f".env.example documents variables docker-compose.yml does not use: {sorted(unused)}"


def test_env_example_publishes_no_secret():
    """Required secrets (`${VAR:?message}`) are empty in .env.example: compose refuses to start until set."""
    text = _compose_text_without_comments()
    required = {m.group(1) for m in _INTERPOLATION.finditer(text) if m.group(2) in (":?", "?")}
    assert {"POSTGRES_PASSWORD", "REDIS_PASSWORD", "AKIG_COOKIE_SECRET", "AKIG_SESSION_SECRET", "AKIG_METRICS_TOKEN",
            "AKIG_APP_PASSWORD", "GRAFANA_ADMIN_PASSWORD"} <= required
    values = _env_example()
    for name in required:
        if re.search(r"PASSWORD|SECRET|TOKEN", name):
            assert values.get(name) == "", f".env.example must leave {name} empty (got {values.get(name)!r})"


def test_app_environment(compose):
    env = compose["services"]["app"]["environment"]
    assert env["AKIG_ENV"] == "production"
    assert "@postgres:5432/" in env["AKIG_DATABASE_URL"] and "@redis:6379" in env["AKIG_REDIS_URL"]
    for name in ("AKIG_COOKIE_SECRET", "AKIG_SESSION_SECRET", "AKIG_METRICS_TOKEN", "AKIG_APP_ROLE", "AKIG_APP_PASSWORD",
                 "AKIG_ALLOWED_ORIGINS", "AKIG_REPORTS_DIR"):
        assert name in env, name
    reports = env["AKIG_REPORTS_DIR"]
    assert any(isinstance(v, str) and v.endswith(":" + reports) for v in compose["services"]["app"]["volumes"])


def test_prometheus_gets_the_token_where_its_config_reads_it(compose):
    secrets = compose["services"]["prometheus"]["secrets"]
    targets = {s["target"]: s for s in secrets if isinstance(s, dict)}
    token_file = "/etc/prometheus/akig_metrics_token"
    assert token_file in targets
    assert compose["secrets"][targets[token_file]["source"]] == {"environment": "AKIG_METRICS_TOKEN"}
    assert targets[token_file]["uid"] == "65534", "Prometheus runs as nobody: the file must be readable by it"
    if PROMETHEUS_YML.is_file():
        config = _yaml().safe_load(PROMETHEUS_YML.read_text())
        for job in config["scrape_configs"]:
            for static in job.get("static_configs", []):
                for target in static["targets"]:
                    host = target.rsplit(":", 1)[0]
                    assert host == "localhost" or host in SERVICES, f"prometheus.yml scrapes {target}: no such service"
            if job["job_name"] == "akig":
                assert job["authorization"]["credentials_file"] == token_file


def test_bind_mounted_files_are_in_the_repository(compose):
    """Compose would create a missing bind source as an empty directory (and Prometheus would not start)."""
    missing = []
    for service, source in _volume_sources(compose):
        if source.startswith("./"):
            if not (REPO / source).exists():
                missing.append(f"{service}: {source}")
    assert not missing, f"bind-mounted paths missing from the repository: {missing}"


# --- nginx ------------------------------------------------------------------------------------------------------

def test_nginx_config_essentials():
    conf = NGINX_CONF.read_text()
    for needle in (
        "ssl_certificate     /etc/nginx/certs/akig.crt;", "ssl_certificate_key /etc/nginx/certs/akig.key;",
        "ssl_protocols TLSv1.2 TLSv1.3;", "client_max_body_size 2m;", "map $http_upgrade $connection_upgrade",
        "map $cookie_user $akig_sticky_key", "hash $akig_sticky_key consistent;",
        "include /etc/nginx/upstream/akig-app.conf;", "include /etc/nginx/upstream/akig-ingest.conf;",
        "proxy_pass http://akig_ingest;",
        "return 301 https://$host$request_uri;", "gzip on;", "X-Forwarded-Proto $scheme",
        "X-Forwarded-For $proxy_add_x_forwarded_for", "Strict-Transport-Security", "X-Frame-Options \"SAMEORIGIN\"",
        "X-Content-Type-Options \"nosniff\"", "Referrer-Policy",
    ):
        assert needle in conf, needle
    assert len(re.findall(r"^\s*limit_req_zone ", conf, re.M)) >= 2
    csp = re.search(r'Content-Security-Policy "([^"]+)"', conf).group(1)
    for needle in ("'unsafe-inline'", "'unsafe-eval'", "connect-src 'self' wss:"):
        assert needle in csp, needle
    metrics = re.search(r"location = /metrics \{(.*?)\}", conf, re.S).group(1)
    assert "deny all;" in metrics
    # add_header inside a location would drop the server's security headers there.
    for block in re.findall(r"location [^{]*\{(.*?)\}", conf, re.S):
        assert "add_header" not in block


def test_the_shipped_upstreams_are_blue_as_the_script_renders_it():
    """ops/nginx/upstream/ (mounted by compose) holds what `ops/blue-green.sh render blue` writes: the page
    servers 5006 and 5007 of the app service, GPS ingestion on 5016 with the first page server as backup."""
    def servers(text: str) -> list[str]:
        return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]

    for kind, expected in (("app", ["server app:5006 max_fails=3 fail_timeout=10s;",
                                     "server app:5007 max_fails=3 fail_timeout=10s;"]),
                           ("ingest", ["server app:5016 max_fails=3 fail_timeout=10s;", "server app:5006 backup;"])):
        shipped = (REPO / "ops" / "nginx" / "upstream" / f"akig-{kind}.conf").read_text()
        rendered = subprocess.run(["bash", str(REPO / "ops" / "blue-green.sh"), "render", "blue", kind],
                                  capture_output=True, text=True, check=True).stdout
        assert servers(shipped) == servers(rendered) == expected
        assert "# colour: blue" in shipped


def _nginx() -> str:
    nginx = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx")
                                           if os.access(p, os.X_OK)), None)
    if nginx is None:
        pytest.skip("nginx is not installed (Debian: apt-get install nginx)")
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    return nginx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _test_copy(tmp_path: Path, upstreams: list[str], http_port: int = 80, https_port: int = 443,
               ingest: str | None = None, upstream_dir: Path | None = None) -> Path:
    """The config with a throw-away certificate, loopback upstreams (app:5006 does not resolve here and nginx
    refuses unresolvable upstream hosts; `ingest` stands for the GPS ingestion server) or, with
    `upstream_dir`, the upstreams' includes read from there; logs and temp files under tmp_path."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
                    "-days", "1", "-keyout", str(tmp_path / "akig.key"), "-out", str(tmp_path / "akig.crt")],
                   check=True, capture_output=True)
    conf = NGINX_CONF.read_text()

    def sub(pattern: str, replacement: str, text: str) -> str:
        new, n = re.subn(pattern, lambda m: m.expand(replacement), text, flags=re.M)
        assert n, f"the test no longer finds {pattern!r} in akig.conf"
        return new

    conf = sub(r"/etc/nginx/certs/akig\.crt", str(tmp_path / "akig.crt"), conf)
    conf = sub(r"/etc/nginx/certs/akig\.key", str(tmp_path / "akig.key"), conf)
    if upstream_dir is not None:
        conf = sub(r"/etc/nginx/upstream/", f"{upstream_dir}/", conf)
    else:
        ingest_servers = f"server {ingest}; server {upstreams[0]} backup;" if ingest else f"server {upstreams[0]};"
        conf = sub(r"include /etc/nginx/upstream/akig-ingest\.conf;", ingest_servers, conf)
        conf = sub(r"include /etc/nginx/upstream/akig-app\.conf;", " ".join(f"server {u};" for u in upstreams), conf)
    conf = sub(r"/var/log/nginx/", f"{tmp_path}/", conf)
    conf = sub(r"listen 80 default_server;", f"listen 127.0.0.1:{http_port} default_server;", conf)
    conf = sub(r"listen 443 ssl default_server;", f"listen 127.0.0.1:{https_port} ssl default_server;", conf)
    temp = "".join(f"    {d}_temp_path {tmp_path}/{d};\n" for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf = sub(r"^http \{\n", "http {\n" + temp, conf)
    path = tmp_path / "nginx.conf"
    path.write_text(conf)
    return path


def _nginx_args(nginx: str, conf: Path, tmp_path: Path, extra_globals: str = "") -> list[str]:
    args = [nginx, "-c", str(conf), "-p", f"{tmp_path}/", "-g", f"pid {tmp_path}/nginx.pid; {extra_globals}"]
    version = subprocess.run([nginx, "-v"], capture_output=True, text=True).stderr
    match = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", version)
    if match and tuple(map(int, match.groups())) >= (1, 19, 5):  # -e: the error log before the config is read
        args += ["-e", str(tmp_path / "error.log")]
    return args


def test_nginx_accepts_the_config(tmp_path):
    nginx = _nginx()
    conf = _test_copy(tmp_path, ["127.0.0.1:5006"])
    result = subprocess.run(_nginx_args(nginx, conf, tmp_path) + ["-t"], capture_output=True, text=True, timeout=60)
    print(result.stderr)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


class _Echo(http.server.BaseHTTPRequestHandler):
    """An upstream that answers every request with what it received, and its own name."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = json.dumps({"server": self.server.name, "method": self.command, "path": self.path,
                           "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def _nginx_serving(args: list[str], tmp_path: Path, https_port: int):
    """nginx in the foreground with these arguments, once it accepts connections; stopped afterwards."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", https_port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    output = proc.stdout.read() if proc.poll() is not None else ""
                    log = (tmp_path / "error.log").read_text() if (tmp_path / "error.log").exists() else ""
                    pytest.fail(f"nginx did not start: {output}\n{log}")
                time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def running_nginx(tmp_path):
    nginx = _nginx()
    servers = []
    for name in ("a", "b", "ingest"):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
        server.name = name
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    http_port, https_port = _free_port(), _free_port()
    address = [f"127.0.0.1:{s.server_address[1]}" for s in servers]
    conf = _test_copy(tmp_path, address[:2], http_port, https_port, ingest=address[2])
    # As root, workers would run as nobody and could not enter tmp_path (0700) for the request-body files.
    user = "user root; " if hasattr(os, "geteuid") and os.geteuid() == 0 else ""
    try:
        with _nginx_serving(_nginx_args(nginx, conf, tmp_path, f"daemon off; {user}"), tmp_path, https_port):
            yield http_port, https_port
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def _request(port: int, method: str, path: str, headers: dict | None = None, tls: bool = True, body=None):
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # the throw-away self-signed certificate
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=context)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers={"Host": "akig.example.org", **(headers or {})})
        response = conn.getresponse()
        data = response.read()
        return response, (json.loads(data) if response.getheader("Content-Type") == "application/json" else data)
    finally:
        conn.close()


def test_nginx_serves_as_configured(running_nginx):
    http_port, https_port = running_nginx

    response, _ = _request(http_port, "GET", "/proprietaire?x=1", tls=False)
    assert response.status == 301
    assert response.getheader("Location") == "https://akig.example.org/proprietaire?x=1"
    response, _ = _request(http_port, "GET", "/nginx-health", tls=False)
    assert response.status == 200

    response, echo = _request(https_port, "GET", "/api/health")
    assert response.status == 200 and echo["path"] == "/api/health"
    assert echo["headers"]["x-forwarded-proto"] == "https"
    assert echo["headers"]["x-real-ip"] == "127.0.0.1"
    assert echo["headers"]["host"] == "akig.example.org"
    assert response.getheader("Strict-Transport-Security").startswith("max-age=")
    assert response.getheader("X-Frame-Options") == "SAMEORIGIN"
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert "'unsafe-eval'" in response.getheader("Content-Security-Policy")
    assert response.getheader("Server") == "nginx"  # no version

    # Websocket handshake headers reach the app (Bokeh: /<app>/ws).
    _, echo = _request(https_port, "GET", "/carte/ws", {"Upgrade": "websocket", "Connection": "Upgrade",
                                                        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                                                        "Sec-WebSocket-Version": "13"})
    assert echo["headers"]["upgrade"] == "websocket" and echo["headers"]["connection"].lower() == "upgrade"

    # 2 MB bodies are refused... and 1 MB ones (the positions API's maximum) pass.
    response, _ = _request(https_port, "POST", "/api/positions", {"Content-Type": "application/json"},
                           body=b"x" * (2 * 1024 * 1024 + 1))
    assert response.status == 413
    response, echo = _request(https_port, "POST", "/api/positions", {"Content-Type": "application/json"},
                              body=b"x" * (1024 * 1024))
    assert response.status == 200
    # GPS batches go to the ingestion server, every other route to the page servers
    assert echo["server"] == "ingest"
    assert _request(https_port, "GET", "/api/positions/latest")[1]["server"] in {"a", "b"}


def test_nginx_sessions_are_sticky(running_nginx):
    _, https_port = running_nginx
    seen = {}
    for i in range(24):
        cookie = {"Cookie": f"user=session-{i}"}
        servers = {_request(https_port, "GET", path, cookie)[1]["server"]
                   for path in ("/proprietaire", "/proprietaire/ws", "/api/me")}
        assert len(servers) == 1, f"session-{i}: pages and websocket went to {servers}"
        seen[i] = servers.pop()
    assert set(seen.values()) == {"a", "b"}, "sessions are hashed over both upstream servers"
    # Before login: the client address.
    assert len({_request(https_port, "GET", "/login")[1]["server"] for _ in range(5)}) == 1


def test_nginx_limits_login_posts_not_the_form(running_nginx):
    _, https_port = running_nginx
    assert all(_request(https_port, "GET", "/login")[0].status == 200 for _ in range(15))
    statuses = [_request(https_port, "POST", "/login", {"Content-Type": "application/x-www-form-urlencoded"},
                         body=b"username=x&password=y")[0].status for _ in range(10)]
    assert statuses[0] == 200 and 429 in statuses, statuses


# --- Dockerfile and entrypoint --------------------------------------------------------------------------------

def _dockerfile_instructions() -> list[tuple[str, str]]:
    lines, current = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        if raw.strip().startswith("#"):  # comments (and parser directives); inside an instruction too
            continue
        current += raw.rstrip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        if current.strip():
            word, _, rest = current.strip().partition(" ")
            lines.append((word.upper(), rest.strip()))
        current = ""
    return lines


def test_dockerfile_builds_a_non_root_python_311_image():
    instructions = _dockerfile_instructions()
    args = dict(rest.split("=", 1) for word, rest in instructions if word == "ARG" and "=" in rest)
    stages = [re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), rest).split()[0]
              for word, rest in instructions if word == "FROM"]
    assert stages and all(image == "python:3.11-slim" for image in stages), stages
    final = instructions[max(i for i, (word, _) in enumerate(instructions) if word == "FROM"):]
    users = [rest for word, rest in final if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the final stage must run as a non-root user"
    assert ("EXPOSE", "5006 5007 5016") in final   # page servers and GPS ingestion (entrypoint)
    healthcheck = " ".join(rest for word, rest in final if word == "HEALTHCHECK")
    assert "urllib" in healthcheck and "/api/health" in healthcheck
    runs = " ".join(rest for word, rest in instructions if word == "RUN")
    assert re.search(r"pip install \.(\s|$)", runs), "the image installs the package with `pip install .`"
    # The package carries the migrations (akig_data.sql, tests/test_packaging.py): nothing copies them by
    # hand, and the build checks that akig_data.migrations finds them.
    assert not re.search(r"\b(cp|mv|ln)\b[^&;|]*sql", runs), "sql/ is installed by pip, not copied by hand"
    assert "from akig_data.migrations import SQL_DIR" in runs and "discover()" in runs


def test_dockerfile_copies_existing_paths_and_its_entrypoint():
    instructions = _dockerfile_instructions()
    copied = []  # (source in the repository, destination in the image)
    for word, rest in instructions:
        if word in ("COPY", "ADD"):
            words = shlex.split(rest)
            if any(w.startswith("--from") for w in words):
                continue
            *sources, destination = [w for w in words if not w.startswith("--")]
            for source in sources:
                assert (REPO / source).exists(), f"{word} {source}: not in the repository"
                copied.append((source, destination))
    for needed in ("akig_data", "akig_cli", "dashboards", "sql", "pyproject.toml", "README.md"):
        assert needed in {source for source, _ in copied}, f"the image needs {needed} (pip install .)"
    entrypoint = json.loads(next(rest for word, rest in reversed(instructions) if word == "ENTRYPOINT"))
    assert ("ops/docker/entrypoint.sh", entrypoint[0]) in copied


def test_entrypoint_is_valid_bash():
    result = subprocess.run(["bash", "-n", str(ENTRYPOINT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert ENTRYPOINT.read_text().startswith("#!/usr/bin/env bash\n")


def _entrypoint_akig_commands() -> list[tuple[list[str], list[str]]]:
    """(subcommand words, --flags) of every `akig ...` command line of the entrypoint."""
    commands = []
    for line in ENTRYPOINT.read_text().splitlines():
        line = line.strip()
        if line.startswith("#"):
            continue
        match = re.match(r"^(?:exec\s+)?akig\s+(.*)$", line)
        if match:
            words = shlex.split(match.group(1).replace('"$@"', ""))
            sub = []
            for word in words:
                if word.startswith("-"):
                    break
                sub.append(word)
            commands.append((sub, [w.split("=")[0] for w in words if w.startswith("--")]))
    return commands


def test_entrypoint_migrates_then_serves_on_all_addresses():
    commands = _entrypoint_akig_commands()
    assert [sub for sub, _ in commands] == [["db", "init"], ["serve"]]
    assert {"--address", "--port"} <= set(commands[1][1]), commands
    assert 'akig serve --address 0.0.0.0 --port "$port" "$@" &' in ENTRYPOINT.read_text()


def _run_entrypoint(tmp_path: Path, *args: str, **env_extra: str) -> tuple[subprocess.Popen, Path]:
    """The entrypoint with a stand-in `akig` first on PATH: it logs each call (with its PID and the metrics
    folder it was given) and, for `serve`, becomes a long sleep in that PID."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    calls = tmp_path / "calls"
    fake = bin_dir / "akig"
    fake.write_text(f'#!/usr/bin/env bash\necho "$$ $* metrics=$PROMETHEUS_MULTIPROC_DIR access=${{AKIG_ACCESS_LOG:-}}" >> {calls}\n'
                    '[ "$1" = serve ] && exec sleep 300\nexit 0\n')
    fake.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AKIG_", "PROMETHEUS_"))}
    env.update(PATH=f"{bin_dir}:{os.environ['PATH']}", AKIG_DATABASE_URL="postgresql://owner@db/akig", **env_extra)
    proc = subprocess.Popen(["bash", str(ENTRYPOINT), *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    return proc, calls


def _serving(calls: Path, count: int) -> dict[int, tuple[int, str]]:
    """port -> (PID, the call's line) once `count` servers have started."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        lines = calls.read_text().splitlines() if calls.exists() else []
        serves = [line for line in lines if " serve " in line]
        if len(serves) == count:
            return {int(re.search(r"--port (\d+)", line).group(1)): (int(line.split()[0]), line) for line in serves}
        time.sleep(0.05)
    pytest.fail(f"the entrypoint did not start {count} servers: {calls.read_text() if calls.exists() else ''}")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_entrypoint_runs_one_server_per_port_and_stops_them_all_when_one_exits(tmp_path):
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    (metrics / "counter_1.db").write_text("a previous run's values")
    proc, calls = _run_entrypoint(tmp_path, "--extra-flag", AKIG_NUM_PROCS="2", AKIG_INGEST_PROCS="1",
                                  PROMETHEUS_MULTIPROC_DIR=str(metrics))
    try:
        servers = _serving(calls, 3)
        assert calls.read_text().splitlines()[0].split()[1:3] == ["db", "init"]      # migrations first
        assert sorted(servers) == [5006, 5007, 5016]   # pages on 5006+, GPS ingestion on 5016+
        for _, line in servers.values():
            assert "serve --address 0.0.0.0" in line and "--extra-flag" in line and f"metrics={metrics}" in line
        for port, (_, line) in servers.items():   # each its own access log (one writer rotates each file)
            assert line.endswith(f"access=.akig/logs/access-{port}.log"), line
        assert list(metrics.iterdir()) == []           # stale metrics would be counted again
        os.kill(servers[5007][0], signal.SIGKILL)      # one server dies
        assert proc.wait(20) == 128 + signal.SIGKILL   # the container exits with its status...
        assert not any(_alive(pid) for pid, _ in servers.values())   # ...and no server is left behind
        assert "a server exited" in proc.stderr.read()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def test_entrypoint_stops_every_server_on_sigterm(tmp_path):
    proc, calls = _run_entrypoint(tmp_path, AKIG_NUM_PROCS="1", AKIG_INGEST_PROCS="0")
    try:
        servers = _serving(calls, 1)
        assert list(servers) == [5006]
        time.sleep(0.3)                                # the entrypoint is in `wait -n`
        proc.send_signal(signal.SIGTERM)               # docker stop
        assert proc.wait(20) != 0
        assert not _alive(servers[5006][0])
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.parametrize("pages, ingest", [("0", "1"), ("two", "1"), ("2", "-1"), ("2", "1.5")])
def test_entrypoint_refuses_bad_process_counts(tmp_path, pages, ingest):
    proc, calls = _run_entrypoint(tmp_path, AKIG_NUM_PROCS=pages, AKIG_INGEST_PROCS=ingest)
    assert proc.wait(20) == 2
    assert "AKIG_NUM_PROCS must be 1 or more" in proc.stderr.read()
    assert " serve " not in (calls.read_text() if calls.exists() else "")


def test_entrypoint_akig_flags_exist():
    akig = Path(sys.executable).with_name("akig")
    if not akig.exists():
        found = shutil.which("akig")
        if found is None:
            pytest.skip("the akig command is not installed (pip install -e .)")
        akig = Path(found)
    env = dict(os.environ, COLUMNS="200", TERM="dumb", NO_COLOR="1")
    for sub, flags in _entrypoint_akig_commands():
        result = subprocess.run([str(akig), *sub, "--help"], capture_output=True, text=True, timeout=120, env=env)
        assert result.returncode == 0, f"akig {' '.join(sub)} --help: {result.stderr}"
        for flag in flags:
            assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", result.stdout), \
                f"akig {' '.join(sub)} has no {flag}:\n{result.stdout}"


def _echo_server(name: str) -> http.server.ThreadingHTTPServer:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    server.name = name
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_blue_green_switches_nginx_to_green_and_back(tmp_path):
    """ops/blue-green.sh against a real nginx (our config, its upstreams read from the includes the script
    writes) and two colours of echo servers: two page servers and one ingestion server each."""
    nginx = _nginx()
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    echo = {name: _echo_server(name) for name in
            ("blue-a", "blue-b", "blue-ingest", "green-a", "green-b", "green-ingest")}
    addr = {name: f"127.0.0.1:{server.server_address[1]}" for name, server in echo.items()}
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    http_port, https_port = _free_port(), _free_port()
    conf = _test_copy(tmp_path, [], http_port, https_port, upstream_dir=upstream)
    conf.write_text(f"pid {tmp_path}/nginx.pid;\n" + conf.read_text())
    script = REPO / "ops" / "blue-green.sh"
    env = dict(os.environ, AKIG_BLUE=f"{addr['blue-a']} {addr['blue-b']}", AKIG_BLUE_INGEST=addr["blue-ingest"],
               AKIG_GREEN=f"{addr['green-a']} {addr['green-b']}", AKIG_GREEN_INGEST=addr["green-ingest"],
               AKIG_UPSTREAM_FILE=str(upstream / "akig-app.conf"), AKIG_INGEST_FILE=str(upstream / "akig-ingest.conf"),
               AKIG_NGINX=nginx, AKIG_NGINX_CONF=str(conf), AKIG_NGINX_PREFIX=f"{tmp_path}/",
               AKIG_NGINX_ARGS=f"-e {tmp_path}/error.log", AKIG_HEALTH_TIMEOUT="2")

    def script_run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(script), *args], env=env, capture_output=True, text=True, timeout=60)

    for kind in ("app", "ingest"):   # first install: blue
        (upstream / f"akig-{kind}.conf").write_text(script_run("render", "blue", kind).stdout)
    user = "user root; " if hasattr(os, "geteuid") and os.geteuid() == 0 else ""
    args = [nginx, "-c", str(conf), "-p", f"{tmp_path}/", "-e", str(tmp_path / "error.log"), "-g", f"daemon off; {user}"]

    def colours() -> tuple[set[str], str]:
        """The servers pages reach (24 sessions), and the one GPS batches reach."""
        pages = {_request(https_port, "GET", "/proprietaire", {"Cookie": f"user=s{i}"})[1]["server"] for i in range(24)}
        gps = _request(https_port, "POST", "/api/positions", {"Content-Type": "application/json"}, body=b"{}")[1]
        return pages, gps["server"]

    def until_serving(expected) -> tuple[set[str], str]:   # a reload's new workers take over within moments
        deadline = time.monotonic() + 10
        while (seen := colours()) != expected and time.monotonic() < deadline:
            time.sleep(0.1)
        return seen

    def check_switches() -> None:
        assert colours() == ({"blue-a", "blue-b"}, "blue-ingest")

        switched = script_run("switch", "green")
        assert switched.returncode == 0, switched.stderr
        assert "switched to green" in switched.stdout
        assert until_serving(({"green-a", "green-b"}, "green-ingest")) == ({"green-a", "green-b"}, "green-ingest")
        assert "active:  green" in script_run("status").stdout

        rolled_back = script_run("switch", "blue")                       # the rollback
        assert rolled_back.returncode == 0, rolled_back.stderr
        assert until_serving(({"blue-a", "blue-b"}, "blue-ingest")) == ({"blue-a", "blue-b"}, "blue-ingest")

        echo["green-b"].shutdown()                                       # one green server down: refused
        echo["green-b"].server_close()
        before = {f.name: f.read_text() for f in upstream.glob("akig-*.conf")}
        refused = script_run("switch", "green")
        assert refused.returncode == 1 and f"refused: green ({addr['green-b']})" in refused.stderr
        assert {f.name: f.read_text() for f in upstream.glob("akig-*.conf")} == before   # nginx unchanged
        assert colours() == ({"blue-a", "blue-b"}, "blue-ingest")

    try:
        with _nginx_serving(args, tmp_path, https_port):
            check_switches()
    finally:
        for server in echo.values():
            server.shutdown()
            server.server_close()


def test_the_blue_green_script_parses_and_renders_each_colour():
    script = Path(__file__).resolve().parents[2] / "ops" / "blue-green.sh"
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    for colour in ("blue", "green"):
        out = subprocess.run(["bash", str(script), "render", colour], capture_output=True, text=True, check=True).stdout
        assert f"# colour: {colour}" in out and re.search(r"^server \S+:5006 ", out, re.M)
    refused = subprocess.run(["bash", str(script), "switch", "purple"], capture_output=True, text=True)
    assert refused.returncode != 0

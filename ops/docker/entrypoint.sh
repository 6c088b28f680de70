#!/usr/bin/env bash
# Entrypoint of the AKIG image (Dockerfile): apply the migrations, give the application role its password,
# then serve. The server starts only after the migrations, so the container becomes
# healthy (GET /api/health = 200) only once the schema is current.
#
#   (no arguments)         akig db init, then the servers (below)
#   --flag ...             the same, with these extra `akig serve` flags
#   any other command      run it instead (e.g. `akig users add alice --role admin`, `akig db status`, `bash`)
#
# Environment (see .env.example): AKIG_DATABASE_URL is the URL of the tables' owner (migrations run as it);
# the server then reconnects as AKIG_APP_ROLE (akig_app, created by sql/008) with AKIG_APP_PASSWORD, which this
# script sets on that role at every start (so changing it in .env and restarting rotates it).
#
# The servers: AKIG_NUM_PROCS single-process `akig serve` for the pages on ports 5006, 5007, ... (default 2),
# and AKIG_INGEST_PROCS on 5016, ... (default 1) that nginx sends the phones' GPS batches to. Separate
# processes on their own ports, not `--num-procs`: nginx's sticky hash then sends a page's GET and its
# websocket to the same process (with --num-procs the forked processes share one port, and a websocket
# reaching the other process rebuilt the page: docs/operations/scaling.md), and GPS posts never wait behind page
# building. They share their metrics through PROMETHEUS_MULTIPROC_DIR, so any one of them reports all. If one
# exits, the others are stopped and the container exits (its restart policy starts it again).
set -euo pipefail

if [ "$#" -gt 0 ] && [ "${1#-}" = "$1" ]; then
    exec "$@"
fi

: "${AKIG_DATABASE_URL:?AKIG_DATABASE_URL must be set to the PostgreSQL URL of the tables owner}"

echo "akig-entrypoint: applying migrations (akig db init)"
akig db init

if [ -n "${AKIG_APP_PASSWORD:-}" ]; then
    # Client-side quoting (psycopg.sql.Literal): ALTER ROLE takes no bind parameters.
    python - <<'PY' || echo "akig-entrypoint: warning: could not set the password of ${AKIG_APP_ROLE:-akig_app}; in production the server will refuse to start if it cannot log in as that role" >&2
import sys

from psycopg import sql

from akig_data.config import load
from akig_data.engine import create_engine

settings = load()  # the one place that reads AKIG_* variables
role = settings.app_role
engine = create_engine(settings.database_url)
try:
    with engine.begin() as conn:
        cursor = conn.connection.dbapi_connection.cursor()
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
        if cursor.fetchone() is None:
            print(f"akig-entrypoint: warning: role {role} does not exist (AKIG_APP_ROLE); password not set",
                  file=sys.stderr)
            sys.exit(0)
        cursor.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(
            sql.Identifier(role), sql.Literal(settings.app_password)))
        print(f"akig-entrypoint: password of role {role} set")
finally:
    engine.dispose()
PY
fi

pages=${AKIG_NUM_PROCS:-2}
ingest=${AKIG_INGEST_PROCS:-1}
case "$pages/$ingest" in
    *[!0-9/]* | /* | */ | 0/*)
        echo "akig-entrypoint: AKIG_NUM_PROCS must be 1 or more and AKIG_INGEST_PROCS 0 or more (got $pages, $ingest)" >&2
        exit 2 ;;
esac
pages=$((10#$pages))
ingest=$((10#$ingest))

export PROMETHEUS_MULTIPROC_DIR=${PROMETHEUS_MULTIPROC_DIR:-/tmp/akig-metrics}
rm -rf "$PROMETHEUS_MULTIPROC_DIR"   # values of a previous run would be counted again
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"

pids=()
serve_on() {   # serve_on PORT [akig serve flags]
    local port=$1
    shift
    # each server its own access log (several writers would each rotate the same file), unless one is set
    AKIG_ACCESS_LOG="${AKIG_ACCESS_LOG:-${AKIG_HOME:-.akig}/logs/access-$port.log}" \
        akig serve --address 0.0.0.0 --port "$port" "$@" &
    pids+=("$!")
}
stop_all() {
    kill -TERM "${pids[@]}" 2>/dev/null || true
}
stopping=
trap 'stopping=1; stop_all' TERM INT

echo "akig-entrypoint: starting $pages page server(s) on ports 5006+ and $ingest ingestion server(s) on 5016+"
for ((i = 0; i < pages; i++)); do serve_on $((5006 + i)) "$@"; done
for ((i = 0; i < ingest; i++)); do serve_on $((5016 + i)) "$@"; done

status=0
wait -n || status=$?
[ -n "$stopping" ] || echo "akig-entrypoint: a server exited (status $status); stopping the others" >&2
stop_all
wait || true
exit "$status"

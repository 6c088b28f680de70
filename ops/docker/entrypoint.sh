#!/usr/bin/env bash
# Entrypoint of the AKIG image (Dockerfile): apply the migrations, give the application role its password,
# then serve. The server starts only after the migrations, so the container becomes
# healthy (GET /api/health = 200) only once the schema is current.
#
#   (no arguments)         akig db init, then akig serve on 0.0.0.0:5006 with AKIG_NUM_PROCS processes (default 2)
#   --flag ...             the same, with these extra `akig serve` flags
#   any other command      run it instead (e.g. `akig users add alice --role admin`, `akig db status`, `bash`)
#
# Environment (see .env.example): AKIG_DATABASE_URL is the URL of the tables' owner (migrations run as it);
# the server then reconnects as AKIG_APP_ROLE (akig_app, created by sql/008) with AKIG_APP_PASSWORD, which this
# script sets on that role at every start (so changing it in .env and restarting rotates it).
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
import os
import sys

from psycopg import sql

from akig_data.db import create_engine

role = os.environ.get("AKIG_APP_ROLE") or "akig_app"
engine = create_engine(os.environ["AKIG_DATABASE_URL"])
try:
    with engine.begin() as conn:
        cursor = conn.connection.dbapi_connection.cursor()
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
        if cursor.fetchone() is None:
            print(f"akig-entrypoint: warning: role {role} does not exist (AKIG_APP_ROLE); password not set",
                  file=sys.stderr)
            sys.exit(0)
        cursor.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(
            sql.Identifier(role), sql.Literal(os.environ["AKIG_APP_PASSWORD"])))
        print(f"akig-entrypoint: password of role {role} set")
finally:
    engine.dispose()
PY
fi

echo "akig-entrypoint: starting akig serve (${AKIG_NUM_PROCS:-2} processes)"
exec akig serve --address 0.0.0.0 --port 5006 --num-procs "${AKIG_NUM_PROCS:-2}" "$@"

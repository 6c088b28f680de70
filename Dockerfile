# syntax=docker/dockerfile:1
# AKIG server image: `akig serve` (every app, /api/*, /metrics) on port 5006, behind nginx (ops/nginx/akig.conf).
# Used by docker-compose.yml (service "app"). Build: docker build -t akig .
#
# The migrations: sql/ is installed with the package, as akig_data.sql (pyproject.toml maps it), and
# akig_data.migrations finds them there; the build checks that `akig db init` will.

ARG PYTHON_IMAGE=python:3.11-slim

# -- build: a virtualenv with AKIG and its dependencies (all have binary wheels: no compiler needed) ----------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/akig
WORKDIR /src
COPY pyproject.toml README.md ./
COPY akig_data ./akig_data
COPY akig_cli ./akig_cli
COPY dashboards ./dashboards
COPY sql ./sql
RUN /opt/akig/bin/pip install --upgrade pip \
 && /opt/akig/bin/pip install .
# From / (not /src) so that `import akig_data` is the installed copy.
WORKDIR /
RUN /opt/akig/bin/python -c 'from akig_data.migrations import SQL_DIR, discover; n = len(discover()); assert n, "no migration found"; print(n, "migrations in", SQL_DIR)' \
 && /opt/akig/bin/akig --help > /dev/null

# -- runtime -------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="akig" \
      org.opencontainers.image.description="AKIG rent-collection analytics server (akig serve)"

COPY --from=build /opt/akig /opt/akig
COPY ops/docker/entrypoint.sh /usr/local/bin/akig-entrypoint
RUN chmod 0755 /usr/local/bin/akig-entrypoint \
 && groupadd --system --gid 10001 akig \
 && useradd --system --uid 10001 --gid akig --home-dir /var/lib/akig --shell /usr/sbin/nologin akig \
 && mkdir -p /var/lib/akig/reports /var/lib/akig/home \
 && chown -R akig:akig /var/lib/akig

# AKIG_ENV=production: Secure cookies, and no start without AKIG_COOKIE_SECRET and AKIG_SESSION_SECRET
# (given at run time).
# AKIG_NUM_PROCS, AKIG_INGEST_PROCS: read by the entrypoint (page servers on 5006+, GPS ingestion on 5016+,
# one process each); it also empties and sets PROMETHEUS_MULTIPROC_DIR, where they share their metrics.
ENV PATH=/opt/akig/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/var/lib/akig \
    AKIG_ENV=production \
    AKIG_HOME=/var/lib/akig/home \
    AKIG_REPORTS_DIR=/var/lib/akig/reports \
    AKIG_NUM_PROCS=2 \
    AKIG_INGEST_PROCS=1

USER akig
WORKDIR /var/lib/akig
EXPOSE 5006 5007 5016

# /api/health answers 200 while PostgreSQL answers (status ok, or degraded when only Redis is down) and 503
# when the database is down: urlopen raises on 503, so the check fails. Long start period: the first start
# applies the migrations, and every process imports Panel, Bokeh and OR-Tools.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:5006/api/health', timeout=4); sys.exit(0 if r.status == 200 else 1)"]

# The entrypoint migrates, then serves. With arguments it runs them instead, e.g.
#   docker compose run --rm app akig users add alice --role admin
ENTRYPOINT ["/usr/local/bin/akig-entrypoint"]

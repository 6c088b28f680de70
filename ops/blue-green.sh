#!/usr/bin/env bash
# Blue-green switch of nginx between two AKIG servers (docs/operations/deploy.md, "Zero-downtime upgrade").
#
#   ops/blue-green.sh status            which colour nginx sends new requests to, and each colour's health
#   ops/blue-green.sh switch blue|green health-check that colour, write the upstream include, nginx -t, reload
#   ops/blue-green.sh render blue|green [app|ingest]   print that colour's include of upstream akig_app (or
#                                       akig_ingest); first install: redirect it into AKIG_UPSTREAM_FILE / AKIG_INGEST_FILE
#
# nginx's `upstream akig_app { ... }` block includes AKIG_UPSTREAM_FILE instead of naming the server itself
# (docs/operations/deploy.md says how). `switch` refuses a colour whose /api/health does not answer 200 or whose /login
# page does not load, replaces the include atomically (rename in the same folder), runs `nginx -t` (and puts
# the previous include back if it fails), then `nginx -s reload`: new connections go to the new colour, open
# websockets stay on the old one (old nginx workers finish them), so pages open there keep working.
# Rollback is the same command with the other colour.
#
# Environment (defaults match docker-compose.yml: the `app` service is blue, the container started with
# `docker compose run --name app-green` is green; each runs page servers on 5006, 5007 and GPS ingestion on 5016):
#   AKIG_BLUE, AKIG_GREEN   the page servers (host:port, space-separated) of each colour as nginx reaches them
#                           ("app:5006 app:5007", "app-green:5006 app-green:5007")
#   AKIG_BLUE_INGEST, AKIG_GREEN_INGEST
#                           the GPS ingestion server(s) of each colour       (app:5016, app-green:5016)
#   AKIG_UPSTREAM_FILE      the include of `upstream akig_app`, as this script sees it
#                                                                            (/etc/nginx/upstream/akig-app.conf)
#   AKIG_INGEST_FILE        the include of `upstream akig_ingest`; empty: the ingestion upstream is not switched
#                                                                            (none)
#   AKIG_NGINX              nginx binary                                     (nginx)
#   AKIG_NGINX_CONF         nginx's main configuration (-c)                  (/etc/nginx/nginx.conf)
#   AKIG_NGINX_PREFIX       nginx prefix (-p), if not the compiled-in one    (none)
#   AKIG_NGINX_ARGS         more nginx arguments, e.g. "-e /tmp/x/error.log" (none)
#   AKIG_BG_EXEC            prefix for the nginx and curl commands, e.g. "docker compose exec -T nginx" to run
#                           them inside the nginx container, where the colours' names resolve (none)
#   AKIG_UPSTREAM_OPTS      parameters of the upstream's server line         (max_fails=3 fail_timeout=10s)
#   AKIG_HEALTH_TIMEOUT     seconds per health request                       (5)
#   AKIG_FRONT_URL          optional: a URL through nginx (e.g. https://akig.example.org/api/health) that
#                           must answer 200 after the reload
#   AKIG_CURL_OPTS          more curl options, e.g. "-k" for a throw-away certificate on AKIG_FRONT_URL (none)
#
# Exit codes: 0 done, 1 refused or failed (nothing changed, or the previous include was put back), 2 usage.
set -euo pipefail

BLUE=${AKIG_BLUE:-app:5006 app:5007}
GREEN=${AKIG_GREEN:-app-green:5006 app-green:5007}
BLUE_INGEST=${AKIG_BLUE_INGEST:-app:5016}
GREEN_INGEST=${AKIG_GREEN_INGEST:-app-green:5016}
UPSTREAM_FILE=${AKIG_UPSTREAM_FILE:-/etc/nginx/upstream/akig-app.conf}
INGEST_FILE=${AKIG_INGEST_FILE:-}
NGINX_BIN=${AKIG_NGINX:-nginx}
NGINX_CONF=${AKIG_NGINX_CONF:-/etc/nginx/nginx.conf}
NGINX_PREFIX=${AKIG_NGINX_PREFIX:-}
UPSTREAM_OPTS=${AKIG_UPSTREAM_OPTS:-max_fails=3 fail_timeout=10s}
HEALTH_TIMEOUT=${AKIG_HEALTH_TIMEOUT:-5}
FRONT_URL=${AKIG_FRONT_URL:-}
TMP_FILE=

read -r -a EXEC <<<"${AKIG_BG_EXEC:-}"
read -r -a NGINX_EXTRA <<<"${AKIG_NGINX_ARGS:-}"
read -r -a CURL_EXTRA <<<"${AKIG_CURL_OPTS:-}"

usage() {
    sed -n '4,7p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

die() {
    echo "blue-green: $*" >&2
    exit 1
}

# Microseconds since the epoch, without a fork (bash 5), else date(1).
now_us() {
    if [ -n "${EPOCHREALTIME:-}" ]; then
        local t=${EPOCHREALTIME/[.,]/}
        echo "$t"
    else
        echo $(( $(date +%s%N) / 1000 ))
    fi
}

elapsed() {  # elapsed START_US -> "0.123" (seconds, 3 decimals)
    local d=$(( $(now_us) - $1 ))
    printf '%d.%03d' $(( d / 1000000 )) $(( (d / 1000) % 1000 ))
}

run() {  # a command, inside AKIG_BG_EXEC when set
    "${EXEC[@]+"${EXEC[@]}"}" "$@"
}

nginx_cmd() {
    local args=(-c "$NGINX_CONF")
    [ -n "$NGINX_PREFIX" ] && args+=(-p "$NGINX_PREFIX")
    run "$NGINX_BIN" "${args[@]}" "${NGINX_EXTRA[@]+"${NGINX_EXTRA[@]}"}" "$@"
}

address_of() {  # the page servers of a colour
    case "$1" in
        blue) echo "$BLUE" ;;
        green) echo "$GREEN" ;;
        *) usage ;;
    esac
}

ingest_of() {  # the GPS ingestion servers of a colour
    case "$1" in
        blue) echo "$BLUE_INGEST" ;;
        green) echo "$GREEN_INGEST" ;;
        *) usage ;;
    esac
}

render() {  # render COLOUR [app|ingest]: the include for a colour, the server lines of that upstream
    local colour=$1 kind=${2:-app} addr first
    printf '# colour: %s\n# Written by ops/blue-green.sh on %s; included by the upstream akig_%s block.\n' \
        "$colour" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$kind"
    if [ "$kind" = ingest ]; then
        for addr in $(ingest_of "$colour"); do printf 'server %s %s;\n' "$addr" "$UPSTREAM_OPTS"; done
        read -r first _ <<<"$(address_of "$colour")"
        printf 'server %s backup;\n' "$first"   # the page servers take GPS batches if ingestion is down
    else
        for addr in $(address_of "$colour"); do printf 'server %s %s;\n' "$addr" "$UPSTREAM_OPTS"; done
    fi
}

active_colour() {  # from the include's server address: blue, green, none (no include) or unknown (…)
    [ -f "$UPSTREAM_FILE" ] || { echo none; return; }
    local addr blue green
    addr=$(sed -n 's/^[[:space:]]*server[[:space:]]\{1,\}\([^[:space:];]*\).*/\1/p' "$UPSTREAM_FILE" | head -n 1)
    read -r blue _ <<<"$BLUE"
    read -r green _ <<<"$GREEN"
    if [ -z "$addr" ]; then echo none
    elif [ "$addr" = "$blue" ]; then echo blue
    elif [ "$addr" = "$green" ]; then echo green
    else echo "unknown ($addr)"
    fi
}

http_code() {  # http_code URL -> the HTTP status ("000" when nothing answered)
    run curl -s -o /dev/null -w '%{http_code}' --max-time "$HEALTH_TIMEOUT" \
        "${CURL_EXTRA[@]+"${CURL_EXTRA[@]}"}" "$1" || true
}

health_line() {  # health_line ADDR -> "200 ok schema=15" or "000 unreachable"
    local addr=$1 body code status schema
    body=$(run curl -s --max-time "$HEALTH_TIMEOUT" -w '\n%{http_code}' "http://${addr}/api/health" || true)
    code=${body##*$'\n'}
    [ -n "$code" ] || code=000
    status=$(printf '%s' "$body" | sed -n 's/.*"status": *"\([a-z]*\)".*/\1/p' | head -n 1)
    schema=$(printf '%s' "$body" | sed -n 's/.*"schema_version": *\([0-9]*\).*/\1/p' | head -n 1)
    if [ "$code" = 000 ]; then
        echo "000 unreachable"
    else
        echo "${code} ${status:-?} schema=${schema:-?}"
    fi
}

cmd_status() {
    local active
    active=$(active_colour)
    echo "include: $UPSTREAM_FILE"
    case "$active" in
        blue|green) echo "active:  $active ($(address_of "$active"))" ;;
        *) echo "active:  $active" ;;
    esac
    local colour addr
    for colour in blue green; do
        for addr in $(address_of "$colour") $(ingest_of "$colour"); do
            printf '%-6s %-24s /api/health %s\n' "$colour" "$addr" "$(health_line "$addr")"
        done
    done
    if nginx_cmd -t >/dev/null 2>&1; then
        echo "nginx:   configuration test ok"
    else
        echo "nginx:   configuration test FAILED (run: $NGINX_BIN -t -c $NGINX_CONF)"
    fi
}

install_include() {  # install_include FILE KIND COLOUR: keep FILE's content aside (FILE.previous), write the new
    local file=$1 dir tmp
    dir=$(dirname "$file")
    [ -d "$dir" ] || die "no folder $dir for $file"
    tmp=$(mktemp "$dir/.akig-upstream.XXXXXX")
    TMP_FILE="$TMP_FILE $tmp"
    trap 'rm -f $TMP_FILE' EXIT
    render "$3" "$2" >"$tmp"
    chmod 0644 "$tmp"
    if [ -f "$file" ]; then cp -p "$file" "$file.previous"; else rm -f "$file.previous"; fi
    mv -f "$tmp" "$file"
}

restore_include() {  # the previous content back (or no file, if there was none)
    if [ -f "$1.previous" ]; then mv -f "$1.previous" "$1"; else rm -f "$1"; fi
}

cmd_switch() {
    local colour=$1 addr start t health page
    addr=$(address_of "$colour")
    start=$(now_us)

    # 1. Every server of the target must be up: /api/health 200 (PostgreSQL reachable; "degraded" = cache
    #    down is allowed, with a warning) and a page that loads (the login form: server, templates, cookies).
    local server servers
    servers=$(address_of "$colour")
    [ -z "$INGEST_FILE" ] || servers="$servers $(ingest_of "$colour")"
    for server in $servers; do
        health=$(health_line "$server")
        [ "${health%% *}" = 200 ] || die "refused: $colour ($server) /api/health answered ${health}; nginx unchanged"
        case "$health" in *" degraded "*) echo "blue-green: warning: $colour reports degraded (Redis unreachable)" >&2 ;; esac
        page=$(http_code "http://${server}/login")
        [ "$page" = 200 ] || die "refused: $colour ($server) GET /login answered $page; nginx unchanged"
        echo "health:  $colour ($server) /api/health $health, /login $page ($(elapsed "$start") s)"
    done

    if [ "$(active_colour)" = "$colour" ]; then
        echo "already on $colour ($addr): nothing to switch"
        return 0
    fi

    # 2. The new includes, each renamed over the old one (atomic: nginx never reads half a file). A folder,
    #    not the file itself, must be what a container mounts: a renamed file is a new inode.
    install_include "$UPSTREAM_FILE" app "$colour"
    [ -z "$INGEST_FILE" ] || install_include "$INGEST_FILE" ingest "$colour"

    # 3. nginx -t; on failure put the previous includes back (nginx kept running on them).
    local out
    t=$(now_us)
    if ! out=$(nginx_cmd -t 2>&1); then
        restore_include "$UPSTREAM_FILE"
        [ -z "$INGEST_FILE" ] || restore_include "$INGEST_FILE"
        printf '%s\n' "$out" >&2
        die "nginx -t failed: previous include restored, nginx not reloaded"
    fi
    echo "nginx -t: ok ($(elapsed "$t") s)"

    # 4. Reload: the master starts workers with the new upstream; old workers finish their requests and
    #    keep their websockets until those close.
    t=$(now_us)
    if ! out=$(nginx_cmd -s reload 2>&1); then
        restore_include "$UPSTREAM_FILE"
        [ -z "$INGEST_FILE" ] || restore_include "$INGEST_FILE"
        printf '%s\n' "$out" >&2
        die "nginx -s reload failed (is nginx running with $NGINX_CONF?): previous include restored"
    fi
    echo "reload:  signalled ($(elapsed "$t") s)"

    # 5. Optional: the front answers (through the new workers).
    if [ -n "$FRONT_URL" ]; then
        local code tries=0
        sleep 0.2
        code=$(http_code "$FRONT_URL")
        while [ "$code" != 200 ] && [ $tries -lt 10 ]; do
            sleep 0.5; tries=$((tries + 1)); code=$(http_code "$FRONT_URL")
        done
        [ "$code" = 200 ] || die "after the switch $FRONT_URL answers $code: roll back with '$0 switch $( [ "$colour" = blue ] && echo green || echo blue)'"
        echo "front:   $FRONT_URL $code"
    fi
    echo "switched to $colour ($addr) in $(elapsed "$start") s"
}

[ $# -ge 1 ] || usage
case "$1" in
    status) [ $# -eq 1 ] || usage; cmd_status ;;
    switch) [ $# -eq 2 ] || usage; address_of "$2" >/dev/null; cmd_switch "$2" ;;
    render) [ $# -eq 2 ] || { [ $# -eq 3 ] && { [ "$3" = app ] || [ "$3" = ingest ]; }; } || usage
            address_of "$2" >/dev/null; render "$2" "${3:-app}" ;;
    -h|--help|help) usage ;;
    *) usage ;;
esac

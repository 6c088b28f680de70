#!/usr/bin/env bash
# Debian packages the test suite needs: chromium (browser tests, driven by Playwright's Python package;
# browsers are never downloaded), poppler-utils (pdftotext, pdftoppm: reports), prometheus (promtool:
# checks and unit-tests ops/alert_rules.yml), nginx and openssl (`nginx -t` on ops/nginx/akig.conf), curl
# (ops/blue-green.sh's health checks, run by its test). Then axe-core (the accessibility checks of the
# agents' phone app), pinned in tests/browser/axe/package-lock.json, with npm when node is there.
# Installs them when missing and we are root (CI) or have sudo; otherwise says what to install and
# carries on: the browser tests then skip with that reason.
set -euo pipefail
axe() {
  local dir
  dir="$(dirname "$0")/../tests/browser/axe"
  [ -f "$dir/node_modules/axe-core/axe.min.js" ] && return 0
  if command -v npm >/dev/null 2>&1; then
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >/dev/null \
      || echo "npm ci failed: the accessibility test of the agents' app will be skipped" >&2
  else
    echo "npm is missing: the accessibility test of the agents' app will be skipped" >&2
  fi
}
trap axe EXIT   # after the Debian packages (or at once when none is missing)
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v curl >/dev/null 2>&1 || need+=(curl)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo"; else
  echo "Missing Debian packages: ${need[*]} (install them with apt-get; the browser tests will be skipped)" >&2
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "Missing packages: ${need[*]} and no apt-get here; the browser tests will be skipped" >&2
  exit 0
fi
echo "Installing Debian packages: ${need[*]}"
$sudo apt-get update -qq
RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null

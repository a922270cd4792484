#!/usr/bin/env bash
# Runs before `npm test` (npm's pretest): brings a bare machine to what the suite needs, so the
# README's one test command passes by itself. Debian's packages are installed as root; anyone
# else is stopped at once with the one command that installs them, before any test runs.
# Shell, not TypeScript: it must work before `npm install` has brought tsx.
set -euo pipefail
cd "$(dirname "$0")/.."

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }
# Debian's postgresql puts its programs in a versioned directory, off the PATH.
have_pg_server() { compgen -G '/usr/lib/postgresql/*/bin/pg_basebackup' >/dev/null && compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; }

missing=()
have chromium || missing+=(chromium)     # browser tests (Playwright's own download cannot work here)
have haproxy || missing+=(haproxy)       # load-balancer tests and chaos --via-haproxy
have pgbouncer || missing+=(pgbouncer)   # the pgbouncer test project
have promtool || missing+=(prometheus)   # /metrics must pass `promtool check metrics`
have_pg_server || missing+=(postgresql)  # the failover test: a primary, pg_basebackup, a streaming replica

if [ ${#missing[@]} -gt 0 ]; then
  command="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "npm test needs Debian packages this machine lacks: ${missing[*]}" >&2
    echo "install them (as root), then run npm test again:" >&2
    echo "  $command" >&2
    exit 1
  fi
  echo "npm test: installing ${missing[*]} (Debian packages the tests start on loopback)" >&2
  # Only the programs are wanted: keep the packages from starting their services (a Prometheus
  # on :9090, a system HAProxy, PgBouncer or PostgreSQL), as Debian's policy-rc.d allows.
  policy_added=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && policy_added=1
  fi
  trap '[ "$policy_added" = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# A fresh clone has no node_modules; a changed lockfile means they are stale.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "npm test: installing the project's dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund
fi

#!/usr/bin/env bash
# Make sure this machine has what the test suite needs:
#   - PostgreSQL on 127.0.0.1:5432 with a superuser role `root` and a database `test`;
#   - Redis on 127.0.0.1:6379;
#   - Chromium and chromedriver (/usr/bin/chromium, /usr/bin/chromedriver) for the browser test;
#   - Prometheus (/usr/bin/prometheus, Debian's package) for the metrics test, which starts the
#     binary itself (the package's own service is not needed).
# Starts or installs (apt-get, as root) only what is missing; prints nothing when all is there.
# Safe to run again and again: `make test` and `.ci/run` both call it.
set -euo pipefail

PG_HOST=127.0.0.1
PG_PORT=5432
PG_ROLE=root
PG_DB=test
REDIS_HOST=127.0.0.1
REDIS_PORT=6379

export DEBIAN_FRONTEND=noninteractive

log() { echo "ensure_services: $*" >&2; }
warn() { echo "ensure_services: WARNING: $*" >&2; }
die() {
    echo "ensure_services: ERROR: $*" >&2
    exit 1
}
is_root() { [ "$(id -u)" -eq 0 ]; }

# apt-get update runs at most once per run, and only when something must be installed.
apt_updated=0
apt_install() {
    is_root || die "$* must be installed, and only root can do that: sudo apt-get install -y $*"
    command -v apt-get >/dev/null 2>&1 || die "$* must be installed, but this machine has no apt-get"
    if [ "$apt_updated" -eq 0 ]; then
        log "apt-get update"
        apt-get update -qq
        apt_updated=1
    fi
    log "apt-get install -y $*"
    apt-get install -y -qq "$@" >/dev/null
}

# ---------------------------------------------------------------- PostgreSQL

pg_ready() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" >/dev/null 2>&1; }

# Run psql as an administrator: the `postgres` role over TCP when trust allows it, else the
# `postgres` OS user over the Unix socket (peer authentication).
pg_admin() {
    if psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -w -c 'SELECT 1' >/dev/null 2>&1; then
        psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -w -v ON_ERROR_STOP=1 -Atq "$@"
    elif [ "$(id -un)" = postgres ]; then
        psql -p "$PG_PORT" -d postgres -v ON_ERROR_STOP=1 -Atq "$@"
    elif is_root && command -v runuser >/dev/null 2>&1; then
        (cd / && runuser -u postgres -- psql -p "$PG_PORT" -d postgres -v ON_ERROR_STOP=1 -Atq "$@")
    elif is_root; then
        local args
        printf -v args '%q ' "$@"
        (cd / && su postgres -c "psql -p $PG_PORT -d postgres -v ON_ERROR_STOP=1 -Atq $args")
    else
        die "cannot act as the PostgreSQL superuser 'postgres' to create role '$PG_ROLE' and database '$PG_DB'; run this script as root once"
    fi
}

# True when we can connect as `root` to `test` over TCP, and `root` is a superuser.
pg_role_and_db_ok() {
    [ "$(psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_ROLE" -d "$PG_DB" -w -Atq \
        -c 'SELECT rolsuper FROM pg_roles WHERE rolname = current_user' 2>/dev/null)" = t ]
}

ensure_postgres() {
    local installed_now=0 version
    if ! pg_ready; then
        if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
            apt_install postgresql
            installed_now=1
        fi
        # The newest installed major version, if several are.
        version=$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)
        [ -n "$version" ] || die "PostgreSQL is installed but has no cluster under /etc/postgresql"
        if [ "$installed_now" -eq 1 ]; then
            # A fresh cluster asks for passwords over TCP; the tests connect as root without one.
            local hba="/etc/postgresql/$version/main/pg_hba.conf"
            grep -q '^host all all 127.0.0.1/32 trust' "$hba" ||
                sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
        fi
        if ! pg_ready; then
            log "starting PostgreSQL $version (cluster main)"
            pg_ctlcluster --skip-systemctl-redirect "$version" main start ||
                log "pg_ctlcluster start returned an error; waiting for the server anyway"
        fi
        local waited=0
        until pg_ready; do
            if [ "$waited" -ge 30 ]; then
                pg_lsclusters >&2 || true
                die "PostgreSQL did not accept connections on $PG_HOST:$PG_PORT within 30 s (see /var/log/postgresql/)"
            fi
            sleep 1
            waited=$((waited + 1))
        done
    fi

    pg_role_and_db_ok && return 0

    if [ "$(pg_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$PG_ROLE'")" = 1 ]; then
        log "making PostgreSQL role '$PG_ROLE' a superuser"
        pg_admin -c "ALTER ROLE \"$PG_ROLE\" WITH SUPERUSER LOGIN"
    else
        log "creating PostgreSQL superuser role '$PG_ROLE'"
        pg_admin -c "CREATE ROLE \"$PG_ROLE\" WITH SUPERUSER LOGIN"
    fi
    if [ "$(pg_admin -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" != 1 ]; then
        log "creating PostgreSQL database '$PG_DB'"
        pg_admin -c "CREATE DATABASE \"$PG_DB\" OWNER \"$PG_ROLE\""
    fi

    if ! pg_role_and_db_ok; then
        psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_ROLE" -d "$PG_DB" -w -c 'SELECT 1' >/dev/null || true
        die "cannot connect to PostgreSQL as '$PG_ROLE' on $PG_HOST:$PG_PORT without a password." \
            "The tests need trust authentication for 127.0.0.1: add the line" \
            "'host all all 127.0.0.1/32 trust' at the top of pg_hba.conf and reload PostgreSQL."
    fi
}

# --------------------------------------------------------------------- Redis

redis_ready() { [ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

ensure_redis() {
    if command -v redis-cli >/dev/null 2>&1 && redis_ready; then
        return 0
    fi
    if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
        apt_install redis-server
        # The package may have started a server already.
        redis_ready && return 0
    fi
    log "starting Redis on $REDIS_HOST:$REDIS_PORT"
    redis-server --daemonize yes --bind "$REDIS_HOST" --port "$REDIS_PORT" --save "" --appendonly no >/dev/null
    local waited=0
    until redis_ready; do
        [ "$waited" -lt 10 ] || die "Redis did not answer PING on $REDIS_HOST:$REDIS_PORT within 10 s"
        sleep 1
        waited=$((waited + 1))
    done
}

# ------------------------------------------------------------------ Chromium

ensure_chromium() {
    if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
        return 0
    fi
    if is_root; then
        apt_install chromium chromium-driver
    else
        warn "/usr/bin/chromium or /usr/bin/chromedriver is missing and only root can install them" \
            "(sudo apt-get install -y chromium chromium-driver); the browser test will fail."
    fi
}

# ------------------------------------------------------------------ Prometheus

ensure_prometheus() {
    if command -v prometheus >/dev/null 2>&1; then
        return 0
    fi
    if is_root; then
        apt_install prometheus
    else
        warn "prometheus is missing and only root can install it (sudo apt-get install -y prometheus);" \
            "the metrics test (tests/test_prometheus.py) will fail."
    fi
}

ensure_postgres
ensure_redis
ensure_chromium
ensure_prometheus

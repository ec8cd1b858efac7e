#!/usr/bin/env bash
# Makes sure Redis (127.0.0.1:6379) and PostgreSQL (127.0.0.1:5432, trust
# auth, database `test`) answer, starting or installing them when they do
# not. Sourced or run by scripts/test.sh; idempotent.
set -euo pipefail

say() { printf '\033[1m[services]\033[0m %s\n' "$*"; }

apt_install() {
  if [ -z "${apt_updated:-}" ]; then
    apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
postgres_up() { psql -h 127.0.0.1 -p 5432 -U postgres -d test -tAc 'select 1' >/dev/null 2>&1; }

if ! redis_up; then
  if ! command -v redis-server >/dev/null; then
    say "installing Redis from Debian"
    apt_install redis-server
  fi
  say "starting Redis on 127.0.0.1:6379 (nothing kept on disk)"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 50); do redis_up && break; sleep 0.2; done
  redis_up || { say "Redis did not start"; exit 1; }
fi

if ! postgres_up; then
  if ! command -v pg_ctlcluster >/dev/null; then
    say "installing PostgreSQL from Debian"
    apt_install postgresql
  fi
  version=$(ls /etc/postgresql | sort -V | tail -1)
  say "starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
  for _ in $(seq 50); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 0.2; done
  if ! postgres_up; then
    # A fresh cluster: trust local TCP connections and create the test database.
    hba=/etc/postgresql/$version/main/pg_hba.conf
    if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
      sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
      pg_ctlcluster --skip-systemctl-redirect "$version" main reload
    fi
    su postgres -c "psql -tAc \"select 1 from pg_database where datname = 'test'\"" | grep -q 1 \
      || su postgres -c "createdb test"
  fi
  postgres_up || { say "PostgreSQL does not accept connections as postgres@127.0.0.1/test"; exit 1; }
fi
say "Redis and PostgreSQL answer"

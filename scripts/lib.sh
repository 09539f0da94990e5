# Shared set-up for scripts/demo, scripts/test and scripts/bench: dependencies, build,
# install, and a throwaway PostgreSQL 15 cluster. Source it; do not run it.
set -euo pipefail

AG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# AG_PG_BIN: another PostgreSQL 15 installation (say a private copy with its own build of the
# extension); scripts/bench also skips the build and install with AG_SKIP_BUILD=1.
PG_BIN=${AG_PG_BIN:-/usr/lib/postgresql/15/bin}
export PATH="$PG_BIN:$PATH"

AG_PACKAGES=(build-essential cmake pkg-config postgresql-15 postgresql-server-dev-15
             postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl libre2-dev
             nlohmann-json3-dev libgtest-dev clang-format
             libpq-dev libcpp-httplib-dev libssl-dev zlib1g-dev libbrotli-dev)

log() { printf '\n==> %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_deps() {
  local missing=()
  for p in "${AG_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  fi
  # Debian starts a default cluster on install; ours are throwaway, so it is not needed.
}

build_and_install() {
  log "building the extension"
  make -C "$AG_ROOT" -j2 PG_CONFIG="$PG_BIN/pg_config" >/dev/null
  as_root make -C "$AG_ROOT" install PG_CONFIG="$PG_BIN/pg_config" >/dev/null
}

# Starts a cluster in a fresh directory on a free port, as the postgres user (initdb and
# postgres refuse root). Sets PGHOST, PGPORT, PGUSER, PGDATABASE; stop_cluster removes it.
start_cluster() {
  AG_CLUSTER=$(mktemp -d /tmp/alert_grouping.XXXXXX)
  export AG_CLUSTER
  chmod 755 "$AG_CLUSTER"
  chown postgres:postgres "$AG_CLUSTER"
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  runuser -u postgres -- initdb -D "$AG_CLUSTER/data" --auth=trust --username=postgres \
    --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  cat >>"$AG_CLUSTER/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$AG_CLUSTER'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 100
shared_buffers = 512MB
max_locks_per_transaction = 256
${AG_EXTRA_CONF:-}
CONF
  runuser -u postgres -- pg_ctl -D "$AG_CLUSTER/data" -l "$AG_CLUSTER/server.log" -w start >/dev/null
  export PGHOST="$AG_CLUSTER" PGPORT="$port" PGUSER=postgres PGDATABASE=postgres
  trap stop_cluster EXIT
  log "PostgreSQL 15 running on port $port (data in $AG_CLUSTER/data)"
}

stop_cluster() {
  if [ -n "${AG_CLUSTER:-}" ] && [ -d "$AG_CLUSTER/data" ]; then
    runuser -u postgres -- pg_ctl -D "$AG_CLUSTER/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$AG_CLUSTER"
  fi
}

psql_q() { psql -X -v ON_ERROR_STOP=1 -q "$@"; }

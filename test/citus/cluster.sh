# A throwaway Citus cluster on loopback: a coordinator and two workers, each its own
# PostgreSQL 15 server run by the postgres user. Source it; do not run it.
#   citus_start DIR    initdb and start the three servers, add the workers to the
#                      coordinator; sets PGHOST/PGPORT/PGUSER to the coordinator and
#                      CITUS_PORTS to the three ports (coordinator first)
#   citus_createdb DB  create DB with citus on every node (Citus propagates databases only
#                      from 13 on with citus.enable_create_database_propagation)
#   citus_stop         stop the servers and remove DIR
#   citus_log NODE     the log file of coordinator, worker1 or worker2
# Extra postgresql.conf lines for every node: CITUS_EXTRA_CONF.

citus_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# The coordinator's log is server.log, where the single-node suites look for it.
citus_log() {  # node
  if [ "$1" = coordinator ]; then echo "$CITUS_DIR/server.log"; else echo "$CITUS_DIR/$1.log"; fi
}

citus_start() {
  CITUS_DIR=$1
  CITUS_PORTS=()
  mkdir -p "$CITUS_DIR"
  chmod 755 "$CITUS_DIR"
  chown postgres:postgres "$CITUS_DIR"
  local node port
  for node in coordinator worker1 worker2; do
    port=$(citus_free_port)
    CITUS_PORTS+=("$port")
    runuser -u postgres -- /usr/lib/postgresql/15/bin/initdb -D "$CITUS_DIR/$node" \
      --auth=trust --username=postgres --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    cat >>"$CITUS_DIR/$node/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$CITUS_DIR'
shared_preload_libraries = 'citus,alert_grouping'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
shared_buffers = 256MB
max_locks_per_transaction = 256
max_prepared_transactions = 100
wal_level = logical
citus.log_remote_commands = off
# Citus runs a maintenance daemon per database, alert_grouping its launcher and workers.
max_worker_processes = 32
# The maintenance worker serves no database unless a check names one (on the coordinator).
alert_grouping.database_name = ''
${CITUS_EXTRA_CONF:-}
CONF
    runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$CITUS_DIR/$node" \
      -l "$(citus_log "$node")" -w start >/dev/null
  done
  export PGHOST=$CITUS_DIR PGPORT=${CITUS_PORTS[0]} PGUSER=postgres PGDATABASE=postgres
  export CITUS_DIR
}

# Runs SQL on every node (coordinator first) in database DB.
citus_on_all() {  # db sql...
  local db=$1 port
  shift
  for port in "${CITUS_PORTS[@]}"; do
    psql -X -q -v ON_ERROR_STOP=1 -p "$port" -d "$db" "$@" || return 1
  done
}

citus_createdb() {  # db
  local db=$1 port
  for port in "${CITUS_PORTS[@]}"; do
    createdb -p "$port" "$db" || return 1
    psql -X -q -v ON_ERROR_STOP=1 -p "$port" -d "$db" -c 'CREATE EXTENSION citus' || return 1
  done
  psql -X -q -v ON_ERROR_STOP=1 -p "${CITUS_PORTS[0]}" -d "$db" \
    -c "SELECT pg_catalog.citus_set_coordinator_host('127.0.0.1', ${CITUS_PORTS[0]})" \
    -c "SELECT pg_catalog.citus_add_node('127.0.0.1', ${CITUS_PORTS[1]})" \
    -c "SELECT pg_catalog.citus_add_node('127.0.0.1', ${CITUS_PORTS[2]})" >/dev/null
}

citus_stop() {
  local node
  [ -n "${CITUS_DIR:-}" ] || return 0
  for node in coordinator worker1 worker2; do
    [ -d "$CITUS_DIR/$node" ] && runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl \
      -D "$CITUS_DIR/$node" -m fast -w stop >/dev/null 2>&1
  done
  rm -rf "$CITUS_DIR"
}

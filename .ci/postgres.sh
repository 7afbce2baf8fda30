#!/usr/bin/env bash
# A throw-away PostgreSQL 15 server for the store tests, from the Debian packages.
#
#   source .ci/postgres.sh && postgres_start     # in .ci/run: starts it, exports RELEASETOOLS_TEST_POSTGRES,
#                                                # and stops it on EXIT whatever happens
#   bash .ci/postgres.sh                          # by hand: starts one and prints the export line to use
#
# The server runs as the `postgres` user (initdb refuses root) from a temporary folder, listens on 127.0.0.1 only
# on a free port, trusts local connections and runs with fsync off: it holds nothing worth keeping.

postgres_bin_dir() {
  local dir
  for dir in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
      echo "$dir"
      return 0
    fi
  done
  return 1
}

postgres_install() {
  if postgres_bin_dir >/dev/null; then
    return 0
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "PostgreSQL 15 is not installed and apt-get is not available to install it." >&2
    return 1
  fi
  echo "Installing PostgreSQL 15 from the Debian packages..."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null
  postgres_bin_dir >/dev/null
}

# Runs a PostgreSQL tool as the postgres user when we are root (initdb and the server refuse root).
postgres_as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

postgres_free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$(( 20000 + RANDOM % 20000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  return 1
}

postgres_start() {
  postgres_install || return 1
  local bin
  bin=$(postgres_bin_dir)
  POSTGRES_TEST_DIR=$(mktemp -d /tmp/releasetools-pg.XXXXXX)
  export POSTGRES_TEST_DIR
  trap postgres_stop EXIT
  trap 'postgres_stop; exit 130' INT TERM
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$POSTGRES_TEST_DIR"
  fi
  postgres_as_owner "$bin/initdb" -D "$POSTGRES_TEST_DIR/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$POSTGRES_TEST_DIR/initdb.log" 2>&1 || {
    cat "$POSTGRES_TEST_DIR/initdb.log" >&2
    return 1
  }
  local port attempt
  for attempt in 1 2 3; do
    port=$(postgres_free_port) || return 1
    if postgres_as_owner "$bin/pg_ctl" -D "$POSTGRES_TEST_DIR/data" -l "$POSTGRES_TEST_DIR/server.log" -w -t 60 \
      -o "-p $port -c listen_addresses=127.0.0.1 -k $POSTGRES_TEST_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      start >/dev/null; then
      export RELEASETOOLS_TEST_POSTGRES="Host=127.0.0.1;Port=$port;Username=postgres;Database=postgres"
      echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') for the store tests: $RELEASETOOLS_TEST_POSTGRES"
      return 0
    fi
    echo "PostgreSQL did not start on port $port (attempt $attempt); server log:" >&2
    tail -5 "$POSTGRES_TEST_DIR/server.log" >&2 || true
  done
  return 1
}

postgres_stop() {
  if [ -n "${POSTGRES_TEST_DIR:-}" ] && [ -d "$POSTGRES_TEST_DIR" ]; then
    local bin
    bin=$(postgres_bin_dir) || true
    if [ -n "$bin" ] && [ -f "$POSTGRES_TEST_DIR/data/postmaster.pid" ]; then
      postgres_as_owner "$bin/pg_ctl" -D "$POSTGRES_TEST_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$POSTGRES_TEST_DIR"
    unset POSTGRES_TEST_DIR
  fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  # Run by hand: leave the server running and say how to use and stop it.
  set -euo pipefail
  postgres_start
  trap - EXIT INT TERM
  echo "export RELEASETOOLS_TEST_POSTGRES='$RELEASETOOLS_TEST_POSTGRES'"
  echo "Stop it with: runuser -u postgres -- $(postgres_bin_dir)/pg_ctl -D $POSTGRES_TEST_DIR/data stop && rm -rf $POSTGRES_TEST_DIR"
fi

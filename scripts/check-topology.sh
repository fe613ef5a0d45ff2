#!/usr/bin/env bash
# check-topology.sh: for every instance under /var/run/mysqld, its port and
# one line per channel (source, IO and SQL threads, seconds behind).
set -euo pipefail
mb=${MYSQLBACKUP:-$(command -v mysqlbackup || echo "$(dirname "$0")/../bin/mysqlbackup")}
exec "$mb" status --all --socket-glob "${SOCKET_GLOB:-/var/run/mysqld/*.sock}" --brief "$@"

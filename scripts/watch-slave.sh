#!/usr/bin/env bash
# watch-slave.sh PORT [-]: the legacy view of one instance, per channel side
# by side, redrawn every second (changed values highlighted); with "-",
# printed once. Extra arguments go to `mysqlbackup status`.
set -euo pipefail
port=${1:?usage: watch-slave.sh PORT [-] [status options]}
shift
once=
if [ "${1:-}" = "-" ]; then once=1; shift; fi
mb=${MYSQLBACKUP:-$(command -v mysqlbackup || echo "$(dirname "$0")/../bin/mysqlbackup")}
if [ -n "$once" ]; then
  exec "$mb" status --port "$port" "$@"
fi
exec "$mb" status --port "$port" --watch "$@"

#!/usr/bin/env bash
# watch-all.sh [-i]: every instance under /var/run/mysqld. Without -i, all
# of them redrawn every second. With -i, one at a time: r refreshes it,
# any other key moves to the next, q quits.
set -euo pipefail
mb=${MYSQLBACKUP:-$(command -v mysqlbackup || echo "$(dirname "$0")/../bin/mysqlbackup")}
glob=${SOCKET_GLOB:-/var/run/mysqld/*.sock}
if [ "${1:-}" != "-i" ]; then
  exec "$mb" status --all --socket-glob "$glob" --watch
fi
shopt -s nullglob
while :; do
  socks=($glob)
  [ ${#socks[@]} -gt 0 ] || { echo "no socket matches $glob"; exit 1; }
  for s in "${socks[@]}"; do
    while :; do
      clear
      "$mb" status --socket "$s" || true
      read -r -n 1 -s key
      case "$key" in
        r) continue ;;
        q) exit 0 ;;
        *) break ;;
      esac
    done
  done
done

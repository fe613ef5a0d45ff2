#!/usr/bin/env bash
# The whole of mysqlbackup in one run, on a fresh Debian/Ubuntu machine:
# two throw-away MariaDB instances replicating both ways, a backup of
# instance 1 to a local archive, writes on both sides after it, instance 1
# wiped, then restore + catchup_binlog, and a before/after comparison.
# Everything runs under a temp dir on 127.0.0.1 and is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
export PATH="/usr/sbin:/sbin:$PATH"

mb_ensure_packages mariadbd:mariadb-server mariadb-install-db:mariadb-server mariabackup:mariadb-backup \
  mbstream:mariadb-backup mariadb:mariadb-client mariadb-binlog:mariadb-client
work=$(mktemp -d /tmp/mbdemo-XXXXXX)
MB_PIDS=()
trap 'mb_stop_all; rm -rf "$work"' EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "build"
go build -o "$work/mysqlbackup" ./cmd/mysqlbackup
mb=$work/mysqlbackup
"$mb" --version

step "two instances replicating both ways (gtid domains 1 and 2)"
i1=$work/i1 i2=$work/i2
mb_instance "$i1" 1
mb_instance "$i2" 2
mb_replicate "$i1" "$i2" 2
mb_replicate "$i2" "$i1" 1
mb_sql "$i1" "CREATE DATABASE shop;
  CREATE TABLE shop.orders (id INT PRIMARY KEY, item VARCHAR(64), origin VARCHAR(32));
  CREATE TABLE shop.stock (item VARCHAR(64) PRIMARY KEY, qty INT);
  INSERT INTO shop.orders SELECT seq, CONCAT('item-', seq % 17), 'instance 1' FROM shop.seq_1_to_2000;
  INSERT INTO shop.stock SELECT CONCAT('item-', seq), 100 FROM shop.seq_0_to_16"
mb_wait_caught_up "$i2" "$i1"
mb_sql "$i2" "INSERT INTO shop.orders SELECT seq, 'item-1', 'instance 2' FROM shop.seq_10001_to_10500"
mb_wait_caught_up "$i1" "$i2"
echo "instance 1 on port $(cat "$i1/port"), instance 2 on port $(cat "$i2/port"): $(mb_sql "$i1" "SELECT COUNT(*) FROM shop.orders") orders"

port1=$(cat "$i1/port")
(umask 077; printf 'demo des3 password\n' > "$i1/conf/des3_password")
cat > "$i1/conf/backup_conf.yaml" <<EOF
host: 127.0.0.1
data_base: $i1/data
backup_base: $i1/backup
port: $port1
instance_id: 1
mysql_socket: $i1/run/mysqld.sock
purge_binlog_days: 0
replication:
  user: repl
  password: repl-pw
  source:
    - {host: 127.0.0.1, port: $(cat "$i2/port"), id: 2}
EOF
conf=$i1/conf/backup_conf.yaml

step "backup of instance 1 (local archive: no S3 needed)"
"$mb" --conf-path "$conf" backup 2>"$work/backup.log"

step "writes after the backup, on both instances"
mb_sql "$i1" "INSERT INTO shop.orders VALUES (5000, 'item-3', 'instance 1 after the backup'); UPDATE shop.stock SET qty = qty - 1 WHERE item = 'item-3'"
mb_sql "$i2" "INSERT INTO shop.orders VALUES (20000, 'item-4', 'instance 2 after the backup')"
mb_wait_caught_up "$i2" "$i1"
mb_wait_caught_up "$i1" "$i2"
declare -A before
for t in orders stock; do before[$t]=$(mb_sql "$i1" "CHECKSUM TABLE shop.$t" | cut -f2); done
before_rows=$(mb_sql "$i1" "SELECT COUNT(*) FROM shop.orders")

step "instance 1 lost: killed, data dir deleted"
mb_kill "$i1" KILL
rm -rf "$i1/data/mysql-$port1"
mb_sql "$i2" "INSERT INTO shop.orders VALUES (20001, 'item-5', 'instance 2 while 1 is down')"
before[orders]=$(mb_sql "$i2" "CHECKSUM TABLE shop.orders" | cut -f2)
before_rows=$((before_rows + 1))

step "restore (the bootstrap hook: --when no-data-dir) and catchup_binlog"
"$mb" --conf-path "$conf" --when no-data-dir restore 2>"$work/restore.log"
"$mb" --conf-path "$conf" catchup_binlog 2>"$work/catchup.log"

step "instance 1 started normally (its datadir's my.cnf), replication started (skip-slave-start)"
mb_start "$i1"
mb_sql "$i1" "START ALL SLAVES"
mb_wait_caught_up "$i1" "$i2"
"$mb" status --socket "$i1/run/mysqld.sock" --brief

step "before / after"
printf '%-14s %-14s %-14s %s\n' table before after match
ok=1
for t in orders stock; do
  after=$(mb_sql "$i1" "CHECKSUM TABLE shop.$t" | cut -f2)
  m=yes; [ "$after" = "${before[$t]}" ] || { m=NO; ok=0; }
  printf '%-14s %-14s %-14s %s\n' "shop.$t" "${before[$t]}" "$after" "$m"
done
after_rows=$(mb_sql "$i1" "SELECT COUNT(*) FROM shop.orders")
printf '%-14s %-14s %-14s %s\n' "orders rows" "$before_rows" "$after_rows" "$([ "$before_rows" = "$after_rows" ] && echo yes || echo NO)"
[ "$before_rows" = "$after_rows" ] || ok=0
echo "server_id of instance 1 after the restore: $(mb_sql "$i1" "SELECT @@server_id") (its own)"
if [ "$ok" = 1 ]; then
  echo "data matched: nothing was lost"
else
  echo "DATA MISMATCH" >&2
  exit 1
fi

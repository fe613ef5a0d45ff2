#!/usr/bin/env bash
# RTO of a point-in-time restore (`restore --until`): how long it takes to
# bring an instance back to a point WRITE_SECS of sysbench writes after its
# backup, phase by phase (download, prepare, replay, ...), and how fast the
# replay of the archived binlogs runs (MB/s, transactions/s) against
# `mariadb-binlog | mariadb` by hand on the same files. A measurement, not
# a test: it prints numbers; it fails only when a step fails or the
# restored data differs.
#
#   scripts/pitr-bench.sh
#   env: WRITE_SECS (300) seconds of sysbench oltp_write_only after the
#        backup (the issue asks for 1 h: WRITE_SECS=3600 reproduces it),
#        SB_THREADS (2), SB_RATE (0 = unthrottled), TABLES (4),
#        TABLE_SIZE (50000) for the sysbench data set,
#        MAX_BINLOG_SIZE (1G, the server's default),
#        KEEP=1 keeps the work dir.
#
# Starts a throw-away MariaDB (log-bin, GTIDs, sync_binlog=1,
# innodb_flush_log_at_trx_commit=1) and MinIO on 127.0.0.1 under a temp
# dir (as scripts/rpo.sh does), then:
#   1. sysbench prepare; a v2 backup (archive_format v2, an age key from
#      `mysqlbackup keygen`); `binlog-archive` with the defaults;
#   2. sysbench oltp_write_only for WRITE_SECS; waits until the archiver's
#      status file ({backup_base}/mysql-{port}.binlog-archive.json) holds
#      SHOW MASTER STATUS's position, then stops it (SIGTERM); records
#      CHECKSUM TABLE and COUNT(*) of the sysbench tables and the GTIDs;
#   3. `restore --until latest --dry-run --json`: the plan (bytes to replay);
#   4. stops the server, wipes the datadir, times `restore --until latest`
#      (wall, and the phases of its `restore ok:` line), starts the server
#      normally and checks the data against step 2;
#   5. the baseline by hand: stops, wipes, `restore --date-str <the
#      backup's date>` (a plain restore), a normal start,
#      `binlog-fetch --to DIR`, then times
#      `mariadb-binlog --start-position=<@@gtid_binlog_pos> DIR/* | mariadb`
#      (the server as configured: sync_binlog=1, flush_log_at_trx_commit=1)
#      and checks the data again;
#   6. prints the table.
# Transactions replayed = the GTID sequence numbers between the backup's
# snapshot and the end (one domain); MB/s = the plan's archive bytes over
# the replay time (the same bytes for both). Everything it starts is
# stopped by PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

WRITE_SECS=${WRITE_SECS:-300}
SB_THREADS=${SB_THREADS:-2}
SB_RATE=${SB_RATE:-0}
TABLES=${TABLES:-4}
TABLE_SIZE=${TABLE_SIZE:-50000}
MAX_BINLOG_SIZE=${MAX_BINLOG_SIZE:-1G}
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
export PATH="$(go env GOPATH)/bin:/usr/sbin:/sbin:$PATH"

. scripts/lib.sh
mb_ensure_packages mariadbd:mariadb-server mariadb-install-db:mariadb-server mariabackup:mariadb-backup \
  mbstream:mariadb-backup mariadb:mariadb-client mariadb-binlog:mariadb-client sysbench:sysbench curl:curl jq:jq
command -v minio >/dev/null || (cd "$(mktemp -d)" && go install "github.com/minio/minio@$MINIO_VERSION")

work=$(mktemp -d /tmp/mbpitr-XXXXXX)
MB_PIDS=()
trap 'mb_stop_all; [ "${KEEP:-0}" = 1 ] && echo "pitr-bench: kept $work" >&2 || rm -rf "$work"' EXIT
log() { echo "pitr-bench: $(date -u +%T) $*" >&2; }
die() { log "$1"; [ -n "${2:-}" ] && tail -20 "$2" >&2; exit 1; }

go build -o "$work/mysqlbackup" ./cmd/mysqlbackup
mb=$work/mysqlbackup
inst=$work/i1
s3port=$(mb_free_port)
log "starting MariaDB and MinIO (127.0.0.1:$s3port) under $work"
mb_instance "$inst" 1 "innodb_buffer_pool_size=256M
innodb_log_file_size=128M
sync_binlog=1
innodb_flush_log_at_trx_commit=1
gtid_strict_mode=1
max_binlog_size=$MAX_BINLOG_SIZE"
port=$(cat "$inst/port")
datadir=$inst/data/mysql-$port
sock=$inst/run/mysqld.sock
mb_minio "$work/minio" "$s3port" pitr pitr-secret
curl -sf -X PUT --aws-sigv4 "aws:amz:us-east-1:s3" --user pitr:pitr-secret "http://127.0.0.1:$s3port/pitr" >/dev/null

log "loading $TABLES x $TABLE_SIZE sysbench rows"
sb() { sysbench oltp_write_only --db-driver=mysql --mysql-socket="$sock" --mysql-user=root --mysql-db=sbtest \
  --tables="$TABLES" --table-size="$TABLE_SIZE" "$@"; }
mb_sql "$inst" "CREATE DATABASE sbtest"
sb --threads=2 prepare >"$work/prepare.log" 2>&1 || die "sysbench prepare failed" "$work/prepare.log"

conf=$inst/conf/backup_conf.yaml
pub=$("$mb" keygen --output "$inst/conf/age.key")
(umask 077; cat > "$conf") <<EOF
host: 127.0.0.1
data_base: $inst/data
backup_base: $inst/backup
port: $port
instance_id: 1
mysql_socket: $sock
s3_host: 127.0.0.1:$s3port
s3_bucket: pitr
s3_access_key: pitr
s3_secret_key: pitr-secret
purge_binlog_days: 0
archive_format: v2
encryption_recipients: [$pub]
encryption_identity_file: age.key
EOF
m() { "$mb" --conf-path "$conf" "$@"; }

log "backup (v2)"
t0=$(mb_now)
m backup >"$work/backup.out" 2>"$work/backup.log" || die "backup failed:" "$work/backup.log"
T_BACKUP=$(mb_calc %.1f "$(mb_now) - $t0")
m list --json >"$work/list.json" 2>"$work/list.log" || die "list failed:" "$work/list.log"
# The backup's date (date_str): the one complete backup's.
bdate=$(jq -r '[.backups[] | select(.complete) | .date] | last // empty' "$work/list.json")
[ -n "$bdate" ] || die "no backup date in list --json: $(head -c 400 "$work/list.json")"
bytes_backup=$(grep -o 'bytes=[0-9]*' "$work/backup.out" | head -1 | cut -d= -f2 || true)
gtid_backup=$(mb_sql "$inst" "SELECT @@gtid_binlog_pos")
log "backup $bdate took ${T_BACKUP}s; binlog-archive; sysbench oltp_write_only for ${WRITE_SECS}s"

status=$inst/backup/mysql-$port.binlog-archive.json
# Not through m(): $! must be the archiver itself, not a subshell (SIGTERM).
"$mb" --conf-path "$conf" binlog-archive >"$work/archiver.out" 2>"$work/archiver.log" &
arch=$!; MB_PIDS+=("$arch"); disown "$arch"
for _ in $(seq 200); do [ -s "$status" ] && break; sleep 0.1; done
[ -s "$status" ] || die "the archiver wrote no status:" "$work/archiver.log"

load0=$(cut -d' ' -f1-3 /proc/loadavg)
sb --threads="$SB_THREADS" --rate="$SB_RATE" --time="$WRITE_SECS" --report-interval=0 run >"$work/sysbench.log" 2>&1 ||
  die "sysbench run failed:" "$work/sysbench.log"
load_w=$(cut -d' ' -f1-3 /proc/loadavg)
sb_tps=$(awk '/transactions:/ { gsub(/[(]/, "", $3); print $3 }' "$work/sysbench.log")
kill -0 "$arch" 2>/dev/null || die "the archiver exited during the load:" "$work/archiver.log"

# Caught up: the archiver's position is the server's end of binlog.
goal=$(mb_sql "$inst" "SHOW MASTER STATUS" | awk '{ print $1 ":" $2 }')
t0=$(mb_now)
for _ in $(seq 1200); do
  [ "$(jq -r '.position // empty' "$status" 2>/dev/null)" = "$goal" ] && break
  sleep 0.1
done
pos=$(jq -r '.position // empty' "$status")
[ "$pos" = "$goal" ] || die "the archiver did not catch up in 120 s (at $pos, server at $goal):" "$work/archiver.log"
T_CATCHUP=$(mb_calc %.1f "$(mb_now) - $t0")
kill -TERM "$arch"
while kill -0 "$arch" 2>/dev/null; do sleep 0.1; done
mb_forget "$arch"
log "archiver caught up with $goal after ${T_CATCHUP}s, stopped: $(cat "$work/archiver.out" "$work/archiver.log" 2>/dev/null | grep -v '^$' | tail -1)"
target_time=$(date -u +%FT%TZ)

# What must come back.
tables=$(seq -s, -f 'sbtest.sbtest%g' 1 "$TABLES")
fingerprint() {
  mb_sql "$inst" "CHECKSUM TABLE $tables" | sort
  for t in $(seq "$TABLES"); do mb_sql "$inst" "SELECT 'sbtest$t', COUNT(*) FROM sbtest.sbtest$t"; done
}
fingerprint >"$work/expect.txt"
gtid_end=$(mb_sql "$inst" "SELECT @@gtid_binlog_pos")
seqno() { echo "$1" | tr ',' '\n' | awk -F- '$1 == 1 { print $3 }'; }

log "plan: restore --until latest --dry-run --json"
m restore --until latest --dry-run --json >"$work/plan.json" 2>"$work/plan.log" || die "dry-run failed:" "$work/plan.log"
plan_bytes=$(jq -r '.archive.bytes // empty' "$work/plan.json")
plan_txns=$(jq -r '.archive.transactions // empty' "$work/plan.json")

stop_server() {
  local pid; pid=$(cat "$inst/mysqld.ownpid")
  mb_kill "$inst"; mb_forget "$pid"
  rm -rf "$datadir"
}
check_data() {
  fingerprint >"$work/got.$1.txt"
  if diff -u "$work/expect.txt" "$work/got.$1.txt" >"$work/diff.$1.txt"; then echo ok; else echo DIFFERS; fi
}

log "PITR: stop, wipe, restore --until latest"
stop_server
t0=$(mb_now)
m restore --until latest >"$work/pitr.out" 2>"$work/pitr.log" || die "restore --until latest failed:" "$work/pitr.log"
T_PITR=$(mb_calc %.2f "$(mb_now) - $t0")
t0=$(mb_now); mb_start "$inst"; T_PITR_START=$(mb_calc %.2f "$(mb_now) - $t0")
okline=$(grep 'restore ok:' "$work/pitr.out" | tail -1)
gtid_pitr=$(mb_sql "$inst" "SELECT @@gtid_binlog_pos")
CHK_PITR=$(check_data pitr)
log "PITR: $okline"
# The phases of the `restore ok:` line: name=duration, after took=.
phases=$(echo "$okline" | sed 's/.* took=[^ ]* //' | tr ' ' '\n' | grep -E '^[a-z_-]+=[0-9.]+(ns|us|µs|ms|s|m|h)+' || true)
# dur D: a Go duration (1m2.5s, 350ms) in seconds.
dur() { echo "$1" | awk '{ s = 0; x = $0
  while (match(x, /^[0-9.]+(h|ms|us|µs|ns|m|s)/)) { t = substr(x, 1, RLENGTH); x = substr(x, RLENGTH + 1)
    n = t + 0; u = t; sub(/^[0-9.]+/, "", u)
    s += n * (u == "h" ? 3600 : u == "m" ? 60 : u == "s" ? 1 : u == "ms" ? 1e-3 : (u == "us" || u == "µs") ? 1e-6 : 1e-9) }
  printf "%.2f", s }'; }
replay_phase=$(echo "$phases" | awk -F= '$1 == "replay" { print $2 }')

log "baseline: stop, wipe, restore --date-str $bdate, start, binlog-fetch, mariadb-binlog | mariadb"
stop_server
t0=$(mb_now)
m --date-str "$bdate" restore >"$work/plain.out" 2>"$work/plain.log" || die "restore --date-str $bdate failed:" "$work/plain.log"
T_PLAIN=$(mb_calc %.2f "$(mb_now) - $t0")
t0=$(mb_now); mb_start "$inst"; T_PLAIN_START=$(mb_calc %.2f "$(mb_now) - $t0")
gtid_plain=$(mb_sql "$inst" "SELECT @@gtid_binlog_pos")
t0=$(mb_now)
m binlog-fetch --to "$work/fetched" >"$work/fetch.out" 2>"$work/fetch.log" || die "binlog-fetch failed:" "$work/fetch.log"
T_FETCH=$(mb_calc %.2f "$(mb_now) - $t0")
fetch_bytes=$(du -cb "$work/fetched"/* | tail -1 | cut -f1)
t0=$(mb_now)
mariadb-binlog --no-defaults --start-position="$gtid_plain" "$work/fetched"/* 2>"$work/replay.err" |
  mariadb --socket="$sock" -uroot --binary-mode 2>>"$work/replay.err" || die "replay from $gtid_plain failed:" "$work/replay.err"
T_HAND=$(mb_calc %.2f "$(mb_now) - $t0")
gtid_hand=$(mb_sql "$inst" "SELECT @@gtid_binlog_pos")
CHK_HAND=$(check_data hand)
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# Transactions: the GTIDs between the backup's snapshot and the end.
n_pitr=$(( $(seqno "$gtid_end") - $(seqno "$gtid_backup") ))
n_hand=$(( $(seqno "$gtid_hand") - $(seqno "$gtid_plain") ))
mbps() { [ -n "$plan_bytes" ] && mb_calc %.2f "$plan_bytes / 1048576 / $1" || echo n/a; }
rp=$( [ -n "$replay_phase" ] && dur "$replay_phase" || echo "")

echo
echo "mysqlbackup PITR RTO: restore --until latest after ${WRITE_SECS}s of sysbench oltp_write_only (threads=$SB_THREADS rate=$SB_RATE, ${sb_tps:-?} tps) on $TABLES x $TABLE_SIZE rows"
echo "$(nproc) cores; load average before the writes $load0, after the writes $load_w, at the end $load_end; sync_binlog=1, innodb_flush_log_at_trx_commit=1"
echo "backup $bdate took ${T_BACKUP}s (snapshot GTID $gtid_backup); archive caught up ${T_CATCHUP}s after the writes (at $goal), target latest (~$target_time, GTID $gtid_end)"
fmt='%-46s %s\n'
printf "$fmt" "archive bytes to replay (dry-run plan)" "${plan_bytes:-n/a} ($(mb_calc %.1f "${plan_bytes:-0} / 1048576") MiB); binlog-fetch wrote $fetch_bytes bytes (all archived files)"
printf "$fmt" "transactions to replay" "plan ${plan_txns:-n/a}; GTIDs after the snapshot $n_pitr (PITR), $n_hand (by hand: after the plain restore's $gtid_plain)"
printf "$fmt" "mysqlbackup restore --until latest, wall" "${T_PITR}s (+ normal start ${T_PITR_START}s) -> GTID $gtid_pitr, data $CHK_PITR"
for p in $phases; do printf "$fmt" "  phase ${p%%=*}" "${p#*=} ($(dur "${p#*=}")s)"; done
if [ -n "$rp" ]; then
  printf "$fmt" "  replay phase speed" "$(mbps "$rp") MB/s, $(mb_calc %.0f "$n_pitr / $rp") transactions/s"
else
  printf "$fmt" "  replay phase speed" "n/a (no replay= phase in: $okline)"
fi
printf "$fmt" "by hand: restore --date-str $bdate" "${T_PLAIN}s (+ normal start ${T_PLAIN_START}s)"
printf "$fmt" "by hand: binlog-fetch --to DIR" "${T_FETCH}s"
printf "$fmt" "by hand: mariadb-binlog | mariadb" "${T_HAND}s -> GTID $gtid_hand, data $CHK_HAND"
printf "$fmt" "  by-hand replay speed" "$(mbps "$T_HAND") MB/s, $(mb_calc %.0f "$n_hand / $T_HAND") transactions/s"
printf "$fmt" "by hand total (restore+start+fetch+replay)" "$(mb_calc %.2f "$T_PLAIN + $T_PLAIN_START + $T_FETCH + $T_HAND")s"
printf "$fmt" "mysqlbackup PITR total (restore+start)" "$(mb_calc %.2f "$T_PITR + $T_PITR_START")s"
echo "(MB = 2^20 bytes of the plan's archive bytes, the same for both replays; the by-hand replay runs on the started"
echo " server with its own durability settings, binlogged; mysqlbackup's replay phase is as the tool runs it)"
[ "$CHK_PITR" = ok ] && [ "$CHK_HAND" = ok ] || { log "restored data differs: $work/diff.*.txt"; KEEP=1; exit 1; }

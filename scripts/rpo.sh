#!/usr/bin/env bash
# RPO of `mysqlbackup binlog-archive`: how much committed data a host loss
# costs when recovery has only S3 (the latest backup + the archived binlogs).
#
#   scripts/rpo.sh [KILLS]      (default 5)
#   env: LOAD_SECS (45) seconds of load before each kill (plus a random
#        0..1 s, so kills fall at any point of the archiver's interval),
#        SB_THREADS (2), SB_RATE (0 = unthrottled) for sysbench,
#        MAX_BINLOG_SIZE (1G, the server's default; e.g. 24M makes the server
#        rotate under load, and the archiver compact each closed file),
#        KEEP=1 keeps the work dir,
#        SEMISYNC=1 runs the archiver with binlog_archive_semisync: true on a
#        server with rpl_semi_sync_master_enabled (timeout 10 s): every
#        acknowledged commit must come back (RPO 0); the first kill's cycle
#        also measures sysbench's commit latency (p50, p99) with the server
#        waiting for the archive and without.
#
# Starts a throw-away MariaDB (log-bin, GTIDs, sync_binlog=1,
# innodb_flush_log_at_trx_commit=1) and MinIO on 127.0.0.1 under a temp
# dir, loads a small sysbench data set and creates rpo.t. Then, KILLS times:
#   1. a fresh bucket, a v2 backup into it, `binlog-archive` started with
#      the defaults (binlog_archive_interval 1s) and a metrics_file;
#   2. a writer commits one row carrying NOW(6) about every 10 ms (one
#      `mariadb` session, autocommit; it logs every id it saw committed)
#      while sysbench oltp_write_only loads the server;
#   3. after LOAD_SECS: the archiver's CPU (utime+stime over the window) and
#      peak RSS (VmHWM), MinIO's request count over the window, then the
#      kill time is taken and mariadbd and the archiver get SIGKILL together
#      (a host loss), writer and sysbench stopped, the datadir deleted;
#   4. from S3 alone: `restore --date-str latest` into the empty datadir, a
#      normal start, `binlog-fetch --to DIR`, and
#      `mariadb-binlog --start-position=@@gtid_binlog_pos DIR/* | mariadb`;
#   5. RPO = kill time - committed_at of the newest recovered rpo.t row;
#      lost = rows the writer saw committed that did not come back.
# Five kills are few: the archiver's reports (the metrics file's last flush
# time, sampled every 100 ms) also give a model of the RPO at every ms of
# the load windows, which each kill checks (columns rpo_s and model).
# Each kill uses its own bucket, backup and archive series: the restored
# server writes new binlogs under names the old series holds (another
# history, which the archiver rightly refuses). Before each backup the
# server's older binlogs are purged, so each archive starts with its backup.
# S3 requests are MinIO's own count (minio_s3_requests_total of
# /minio/v2/metrics/cluster, MINIO_PROMETHEUS_AUTH_TYPE=public): during the
# load window only the archiver talks to MinIO (MinIO computes them again
# at most every 10 s: a load window must be longer).
# Prints a table per kill, then p50/max RPO, archiver CPU and RSS, S3
# requests per hour and the recovery's wall times. Everything it starts is
# stopped by PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

KILLS=${1:-5}
LOAD_SECS=${LOAD_SECS:-45}
SB_THREADS=${SB_THREADS:-2}
SB_RATE=${SB_RATE:-0}
SEMISYNC=${SEMISYNC:-0}
MAX_BINLOG_SIZE=${MAX_BINLOG_SIZE:-1G}
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
export PATH="$(go env GOPATH)/bin:/usr/sbin:/sbin:$PATH"

. scripts/lib.sh
mb_ensure_packages mariadbd:mariadb-server mariadb-install-db:mariadb-server mariabackup:mariadb-backup \
  mbstream:mariadb-backup mariadb:mariadb-client mariadb-binlog:mariadb-client sysbench:sysbench curl:curl
command -v minio >/dev/null || (cd "$(mktemp -d)" && go install "github.com/minio/minio@$MINIO_VERSION")

work=$(mktemp -d /tmp/mbrpo-XXXXXX)
MB_PIDS=()
trap 'mb_stop_all; [ "${KEEP:-0}" = 1 ] && echo "rpo: kept $work" >&2 || rm -rf "$work"' EXIT
log() { echo "rpo: $*" >&2; }
# waitgone PID…: wait until the processes are gone.
waitgone() { local p; for p in "$@"; do while kill -0 "$p" 2>/dev/null; do sleep 0.05; done; done; }

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
mb_minio "$work/minio" "$s3port" rpo rpo-secret MINIO_PROMETHEUS_AUTH_TYPE=public
# s3_requests: MinIO's count of S3 requests so far, all APIs.
s3_requests() {
  curl -sf "http://127.0.0.1:$s3port/minio/v2/metrics/cluster" |
    awk '/^minio_s3_requests_total[{ ]/ { n += $NF } END { printf "%d\n", n }'
}
# s3_requests_by_api: the same per API (api=count lines).
s3_requests_by_api() {
  curl -sf "http://127.0.0.1:$s3port/minio/v2/metrics/cluster" |
    sed -n 's/^minio_s3_requests_total{.*api="\([^"]*\)".*} \(.*\)$/\1 \2/p' | awk '{ n[$1] += $2 } END { for (a in n) printf "%s=%d\n", a, n[a] }' | sort
}

log "loading 4 x 20000 sysbench rows; creating rpo.t"
sock=$inst/run/mysqld.sock
sb() { sysbench oltp_write_only --db-driver=mysql --mysql-socket="$sock" --mysql-user=root --mysql-db=sbtest \
  --tables=4 --table-size=20000 "$@"; }
mb_sql "$inst" "CREATE DATABASE sbtest; CREATE DATABASE rpo;
  CREATE TABLE rpo.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, committed_at DATETIME(6) NOT NULL)"
sb --threads=2 prepare >/dev/null

conf=$inst/conf/backup_conf.yaml
pub=$("$mb" keygen --output "$inst/conf/age.key")
# write_conf BUCKET: the tool's config, the defaults but for the bucket.
write_conf() {
  (umask 077; cat > "$conf") <<EOF
host: 127.0.0.1
data_base: $inst/data
backup_base: $inst/backup
port: $port
instance_id: 1
mysql_socket: $sock
s3_host: 127.0.0.1:$s3port
s3_bucket: $1
s3_access_key: rpo
s3_secret_key: rpo-secret
purge_binlog_days: 0
archive_format: v2
encryption_recipients: [$pub]
encryption_identity_file: age.key
metrics_file: $work/archiver.prom
EOF
  if [ "$SEMISYNC" = 1 ]; then echo "binlog_archive_semisync: true" >> "$conf"; fi
}
# semisync ON|OFF: the server waits for the archiver's acknowledgements, or not.
semisync() {
  mb_sql "$inst" "SET GLOBAL rpl_semi_sync_master_timeout = 10000; SET GLOBAL rpl_semi_sync_master_enabled = $1"
  if [ "$1" = ON ]; then
    for _ in $(seq 100); do
      [ "$(mb_sql "$inst" "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='RPL_SEMI_SYNC_MASTER_STATUS'")" = ON ] && return
      sleep 0.1
    done
    log "the server does not wait for the archiver (Rpl_semi_sync_master_status OFF)"; exit 1
  fi
}
# latency P: sysbench's commit latency percentile P (ms) over 15 s.
latency() {
  sb --threads="$SB_THREADS" --time=15 --percentile="$1" --report-interval=0 run |
    awk -v p="$1" '$0 ~ p"th percentile:" { print $NF }'
}
LAT=
hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; } # utime + stime
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

declare -a R_CYC R_CYCMAX R_PRED R_ERR R_RSS0 R_LOAD R_RPO R_LAST R_ACKED R_ACKLAST R_RECOV R_LOST R_HOLES R_EXTRA R_CPU R_RSS R_REQH R_LAG R_TPS R_WPS \
  R_BACKUP R_RESTORE R_FETCH R_REPLAY R_FILES R_BYTES
declare -A APIS=()
for k in $(seq "$KILLS"); do
  bucket=rpo-$k
  log "kill $k/$KILLS: bucket $bucket, backup, archiver, load for ${LOAD_SECS}s"
  curl -sf -X PUT --aws-sigv4 "aws:amz:us-east-1:s3" --user rpo:rpo-secret "http://127.0.0.1:$s3port/$bucket" >/dev/null
  write_conf "$bucket"
  if [ "$k" -gt 1 ]; then
    # The older binlogs go (the first kill keeps the data load's: the
    # archiver starts on a server with a history, as it would in place).
    # MariaDB keeps a file until its binlog checkpoint passed it: retry.
    cur=$(mb_sql "$inst" "FLUSH BINARY LOGS; SHOW MASTER STATUS" | cut -f1)
    for _ in $(seq 100); do
      mb_sql "$inst" "PURGE BINARY LOGS TO '$cur'"
      [ "$(mb_sql "$inst" "SHOW BINARY LOGS" | head -1 | cut -f1)" = "$cur" ] && break
      sleep 0.1
    done
  fi
  t0=$(mb_now)
  "$mb" --conf-path "$conf" backup >"$work/backup.$k.out" 2>"$work/backup.$k.log" || {
    log "backup failed:"; tail -5 "$work/backup.$k.log" >&2; exit 1; }
  R_BACKUP[k]=$(mb_calc %.1f "$(mb_now) - $t0")
  rm -f "$work/archiver.prom"
  # A replica is semi-synchronous only if the server has it on when it connects.
  if [ "$SEMISYNC" = 1 ]; then mb_sql "$inst" "SET GLOBAL rpl_semi_sync_master_timeout = 10000; SET GLOBAL rpl_semi_sync_master_enabled = ON"; fi
  "$mb" --conf-path "$conf" binlog-archive >"$work/archiver.$k.out" 2>"$work/archiver.$k.log" &
  arch=$!; MB_PIDS+=("$arch"); disown "$arch" # no job-control noise when it is killed
  for _ in $(seq 100); do [ -s "$work/archiver.prom" ] && break; sleep 0.1; done
  [ -s "$work/archiver.prom" ] || { log "the archiver wrote no metrics:"; tail -5 "$work/archiver.$k.log" >&2; exit 1; }
  if [ "$SEMISYNC" = 1 ]; then
    if [ "$k" = 1 ]; then
      log "commit latency: sysbench with the server waiting for the archive, then without"
      semisync ON; on50=$(latency 50); on99=$(latency 99)
      semisync OFF; off50=$(latency 50); off99=$(latency 99)
      LAT="commit latency (sysbench oltp_write_only, $SB_THREADS threads, ms): asynchronous p50 $off50 p99 $off99; semi-synchronous to S3 p50 $on50 p99 $on99"
    fi
    semisync ON
  fi

  # The writer: one session, one autocommitted row about every 10 ms; after
  # each commit it prints the row's id and the time it saw the commit.
  mariadb --socket="$sock" -uroot -N -B -n < <(echo "SET time_zone = '+00:00';"
      yes "INSERT INTO rpo.t (committed_at) VALUES (NOW(6)); SELECT LAST_INSERT_ID(), UNIX_TIMESTAMP(NOW(6)); DO SLEEP(0.01);") \
    >"$work/writer.$k.log" 2>"$work/writer.$k.err" &
  writer=$!; MB_PIDS+=("$writer"); disown "$writer"
  sb --threads="$SB_THREADS" --rate="$SB_RATE" --time=$((LOAD_SECS * 4)) --report-interval=0 run \
    >"$work/sysbench.$k.log" 2>&1 &
  sysb=$!; MB_PIDS+=("$sysb"); disown "$sysb"
  sleep 5 # the load settles
  # VmHWM so far (start and catch-up), then reset to measure the load alone.
  hwm0=$(hwm_kib "$arch"); echo 5 > "/proc/$arch/clear_refs"
  w0=$(mb_now); c0=$(cpu_ticks "$arch"); q0=$(s3_requests); mapfile -t a0 < <(s3_requests_by_api)
  sb0=$(mb_sql "$inst" "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='COM_COMMIT'")
  wr0=$(wc -l < "$work/writer.$k.log")
  # The archiver's reports (after each flush, every interval): their times.
  while :; do
    awk '/^mysqlbackup_binlog_archive_last_flush_timestamp_seconds/ { printf "%.6f\n", $NF }' "$work/archiver.prom" 2>/dev/null
    sleep 0.1
  done > "$work/reports.$k" &
  sampler=$!; MB_PIDS+=("$sampler"); disown "$sampler"
  sleep "$LOAD_SECS.$(printf '%03d' $((RANDOM % 1000)))"
  c1=$(cpu_ticks "$arch"); hwm=$(hwm_kib "$arch"); q1=$(s3_requests); mapfile -t a1 < <(s3_requests_by_api)
  lag=$(awk '/^mysqlbackup_binlog_archive_lag_seconds/ { print $NF }' "$work/archiver.prom")
  R_ERR[k]=$(awk '/^mysqlbackup_binlog_archive_errors_total/ { print $NF }' "$work/archiver.prom")
  sb1=$(mb_sql "$inst" "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='COM_COMMIT'")
  wr1=$(wc -l < "$work/writer.$k.log")
  kill -0 "$arch" 2>/dev/null || { log "the archiver exited during the load:"; tail -5 "$work/archiver.$k.log" >&2; exit 1; }
  # The host is lost: the server and the archiver die together.
  mysqld=$(cat "$inst/mysqld.ownpid")
  kill_t=$(mb_now)
  kill -KILL "$mysqld" "$arch"
  kill "$sampler"; waitgone "$sampler"; mb_forget "$sampler"
  w1=$kill_t
  kill -KILL "$writer" "$sysb" 2>/dev/null || true
  waitgone "$mysqld" "$arch" "$writer" "$sysb"
  mb_forget "$mysqld" "$arch" "$writer" "$sysb"
  rm -rf "$datadir"
  win=$(mb_calc %.3f "$w1 - $w0")
  R_CPU[k]=$(mb_calc %.1f "($c1 - $c0) / $hz / $win * 100")
  R_RSS[k]=$(mb_calc %.1f "$hwm / 1024")
  R_RSS0[k]=$(mb_calc %.1f "$hwm0 / 1024")
  R_LOAD[k]=$(cut -d' ' -f1 /proc/loadavg)
  # MinIO computes these metrics again at most every 10 s (on a scrape):
  # a shorter window would read the same count twice.
  short=$(mb_calc %d "$win < 11")
  R_REQH[k]=$([ "$short" = 1 ] && echo n/a || mb_calc %.0f "($q1 - $q0) / $win * 3600")
  R_LAG[k]=$(mb_calc %.2f "$lag")
  # The reports say when each flush ended: a flush takes what arrived up to
  # its start, one interval (1 s) after the report before it, or earlier at
  # a rotation. So at time t after report j the archive holds what arrived
  # before min(r[j-1] + 1 s, r[j]): a model of the RPO at every moment of
  # the window (arrival = commit, which the kills check), and the cycle from
  # one report to the next. It is pessimistic by a cycle when the kill
  # falls between a flush's index write and its report in the metrics file,
  # and optimistic after a rotation: the archiver compacts the closed file
  # (at most 32 MiB) before it reads on, and the flush due meanwhile finds
  # (almost) nothing and starts a whole new interval. The kills are the
  # ground truth.
  awk '/^mysqlbackup_binlog_archive_last_flush_timestamp_seconds/ { printf "%.6f\n", $NF }' "$work/archiver.prom" >> "$work/reports.$k"
  read -r R_CYC[k] R_CYCMAX[k] R_PRED[k] < <(sort -n -u "$work/reports.$k" |
    awk -v w0="$w0" -v kt="$kill_t" -v out="$work/model.samples" '
      $1 <= kt { r[++n] = $1 }
      END {
        for (i = 2; i <= n; i++) if (r[i] >= w0) { c = r[i] - r[i-1]; sum += c; m++; if (c > mx) mx = c }
        j = 2
        for (t = (w0 > r[2] ? w0 : r[2]); t <= kt; t += 0.001) {
          while (j < n && r[j+1] <= t) j++
          printf "%.4f\n", t - cut(j) >> out
        }
        printf "%.3f %.3f %.3f\n", sum / m, mx, kt - cut(n)
      }
      function cut(j) { return r[j-1] + 1 < r[j] ? r[j-1] + 1 : r[j] }')
  R_TPS[k]=$(mb_calc %.0f "($sb1 - $sb0) / $win")
  R_WPS[k]=$(mb_calc %.0f "($wr1 - $wr0) / $win")
  [ "$short" = 1 ] || for line in "${a1[@]}"; do
    api=${line%%=*} before=0
    for l0 in "${a0[@]}"; do [ "${l0%%=*}" = "$api" ] && before=${l0#*=}; done
    APIS[$api]=$(( ${APIS[$api]:-0} + ${line#*=} - before ))
  done
  [ "$short" = 1 ] || APIS[_window]=$(mb_calc %.3f "${APIS[_window]:-0} + $win")

  log "kill $k: recovering from S3 alone"
  t0=$(mb_now)
  "$mb" --conf-path "$conf" --date-str latest --clean-after-restore restore >"$work/restore.$k.out" 2>"$work/restore.$k.log" || {
    log "restore failed:"; tail -5 "$work/restore.$k.log" >&2; exit 1; }
  mb_start "$inst"
  R_RESTORE[k]=$(mb_calc %.1f "$(mb_now) - $t0")
  gtid=$(mb_sql "$inst" "SELECT @@gtid_binlog_pos")
  t0=$(mb_now)
  "$mb" --conf-path "$conf" binlog-fetch --to "$work/fetched.$k" >"$work/fetch.$k.out" 2>"$work/fetch.$k.log" || {
    log "binlog-fetch failed:"; tail -5 "$work/fetch.$k.log" >&2; exit 1; }
  R_FETCH[k]=$(mb_calc %.1f "$(mb_now) - $t0")
  R_FILES[k]=$(grep -o 'files=[0-9]*' "$work/fetch.$k.out" | cut -d= -f2)
  R_BYTES[k]=$(grep -o 'bytes=[0-9]*' "$work/fetch.$k.out" | cut -d= -f2)
  # The replay is binlogged (the GTIDs go on in the server's own binlog,
  # as the next kill's backup needs), durability relaxed while it runs.
  t0=$(mb_now)
  mb_sql "$inst" "SET GLOBAL sync_binlog = 0, GLOBAL innodb_flush_log_at_trx_commit = 2"
  mariadb-binlog --no-defaults --start-position="$gtid" "$work/fetched.$k"/* 2>"$work/replay.$k.err" |
    mariadb --socket="$sock" -uroot --binary-mode 2>>"$work/replay.$k.err" || {
    log "replay from $gtid failed:"; tail -5 "$work/replay.$k.err" >&2; exit 1; }
  mb_sql "$inst" "SET GLOBAL sync_binlog = 1, GLOBAL innodb_flush_log_at_trx_commit = 1"
  R_REPLAY[k]=$(mb_calc %.1f "$(mb_now) - $t0")

  # What came back, against what the writer saw committed.
  first=$(head -1 "$work/writer.$k.log" | cut -f1)
  read -r acked acked_last acked_last_t < <(awk '{ n++; id = $1; t = $2 } END { print n, id, t }' "$work/writer.$k.log")
  read -r recov_last recov_t recov_n < <(mb_sql "$inst" "SET time_zone = '+00:00';
    SELECT MAX(id), UNIX_TIMESTAMP(MAX(committed_at)), COUNT(*) FROM rpo.t WHERE id >= $first")
  if [ "$recov_last" = NULL ]; then recov_last=0 recov_t=0; fi
  R_RPO[k]=$(mb_calc %.3f "$kill_t - $recov_t")
  R_LAST[k]=$(mb_calc %.3f "$kill_t - $acked_last_t") # the newest commit the writer saw, before the kill
  R_ACKED[k]=$acked
  R_RECOV[k]=$recov_n
  R_LOST[k]=$(awk -v m="$recov_last" '$1 > m { n++ } END { print n + 0 }' "$work/writer.$k.log")
  # Acked rows at or below the newest recovered one that are missing (a hole
  # in the middle), and recovered rows the writer never saw acked.
  acked_upto=$(awk -v m="$recov_last" '$1 <= m { n++ } END { print n + 0 }' "$work/writer.$k.log")
  R_HOLES[k]=$(( acked_upto > recov_n ? acked_upto - recov_n : 0 ))
  R_EXTRA[k]=$(( recov_n > acked_upto ? recov_n - acked_upto : 0 ))
  log "kill $k: RPO ${R_RPO[k]} s, lost ${R_LOST[k]} of ${acked} acked rows"
done

pct() { # pct P values…: the nearest-rank percentile
  local p=$1; shift
  printf '%s\n' "$@" | sort -g | awk -v p="$p" '{ v[NR] = $1 } END { i = int((p * NR + 99) / 100); if (i < 1) i = 1; print v[i] }'
}
echo
echo "mysqlbackup binlog-archive RPO: $KILLS kills after ${LOAD_SECS}s of sysbench oltp_write_only (threads=$SB_THREADS rate=$SB_RATE)$([ "$SEMISYNC" = 1 ] && echo ', binlog_archive_semisync: true')"
if [ -n "$LAT" ]; then echo "$LAT"; fi
echo "+ one writer row every ~10 ms; sync_binlog=1, innodb_flush_log_at_trx_commit=1; binlog_archive_interval default (1s); $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
fmt='%-4s %6s %6s %10s %6s %6s %5s %5s %7s %6s %8s %9s %5s %5s %7s %6s %6s %6s %4s %5s %6s %7s %5s %6s %9s\n'
printf "$fmt" kill rpo_s model last_ack_s acked recov lost holes unacked cpu_% rss_load rss_start lag_s cycle cyc_max s3_err req/h sb_tps wr/s load1 backup restore fetch replay fetched
for k in $(seq "$KILLS"); do
  printf "$fmt" "$k" "${R_RPO[k]}" "${R_PRED[k]}" "${R_LAST[k]}" "${R_ACKED[k]}" "${R_RECOV[k]}" "${R_LOST[k]}" "${R_HOLES[k]}" "${R_EXTRA[k]}" \
    "${R_CPU[k]}" "${R_RSS[k]}" "${R_RSS0[k]}" "${R_LAG[k]}" "${R_CYC[k]}" "${R_CYCMAX[k]}" "${R_ERR[k]}" "${R_REQH[k]}" "${R_TPS[k]}" "${R_WPS[k]}" "${R_LOAD[k]}" \
    "${R_BACKUP[k]}" "${R_RESTORE[k]}" "${R_FETCH[k]}" "${R_REPLAY[k]}" "${R_FILES[k]}f/$(( R_BYTES[k] / 1024 / 1024 ))M"
done
echo
rpos=("${R_RPO[@]}")
echo "RPO p50 $(pct 50 "${rpos[@]}") s, max $(pct 100 "${rpos[@]}") s over the kills   (goal <= 1 s)"
read -r mp50 mp99 mmax mn < <(sort -g "$work/model.samples" | awk '{ v[NR] = $1 } END { printf "%.3f %.3f %.3f %d\n", v[int(NR*0.5)], v[int(NR*0.99)], v[NR], NR }')
echo "RPO model over every ms of the load windows ($mn ms): p50 $mp50 s, p99 $mp99 s, max $mmax s;" \
  "report cycle mean $(pct 50 "${R_CYC[@]}") s (p50 of the kills), max $(pct 100 "${R_CYCMAX[@]}") s"
echo "archiver CPU $(pct 50 "${R_CPU[@]}")% of one core (p50; max $(pct 100 "${R_CPU[@]}")%), peak RSS under load max $(pct 100 "${R_RSS[@]}") MiB," \
  "before the load (start, catch-up) max $(pct 100 "${R_RSS0[@]}") MiB   (goal <= 64 MiB)"
total=0; for a in "${!APIS[@]}"; do [ "$a" = _window ] || total=$((total + APIS[$a])); done
if [ -n "${APIS[_window]:-}" ]; then
  echo "S3 requests $(mb_calc %.0f "$total / ${APIS[_window]} * 3600")/h over ${APIS[_window]} s of load windows, by API (per hour):$(
    for a in "${!APIS[@]}"; do [ "$a" = _window ] || [ "${APIS[$a]}" = 0 ] || printf ' %s=%s' "$a" "$(mb_calc %.0f "${APIS[$a]} / ${APIS[_window]} * 3600")"; done)"
else
  echo "S3 requests: n/a (load windows under 11 s)"
fi
echo "recovery wall (p50/max s): restore+start $(pct 50 "${R_RESTORE[@]}")/$(pct 100 "${R_RESTORE[@]}")," \
  "binlog-fetch $(pct 50 "${R_FETCH[@]}")/$(pct 100 "${R_FETCH[@]}"), replay $(pct 50 "${R_REPLAY[@]}")/$(pct 100 "${R_REPLAY[@]}")"
echo "(rpo_s = kill time - committed_at of the newest recovered row, committed_at being NOW(6) at the INSERT's start, so it"
echo " slightly overstates; model = the RPO the archiver's reports predict at the kill (a flush takes what arrived up to"
echo " 1 s after the report before it, or up to a rotation; optimistic around rotations); cycle, cyc_max = mean and longest time between two reports (interval + flush);"
echo " last_ack_s = kill time - when the writer saw its last commit; lost = acked rows not recovered;"
echo " holes = acked rows missing below the newest recovered one; unacked = recovered rows whose commit the writer never saw;"
echo " cpu_% = archiver utime+stime over the load window, of one core; rss_load = its VmHWM in the window (reset at its"
echo " start), rss_start = its VmHWM before (start, catch-up of the binlogs it found); lag_s = its last reported lag"
echo " (binlog timestamps have whole seconds: it reads up to 1 s high); load1 = load average at the kill;"
echo " s3_err = the archiver's store failures (metrics); req/h = MinIO's S3 requests in the window, per hour; sb_tps = COM_COMMIT/s; wr/s = writer rows/s)"

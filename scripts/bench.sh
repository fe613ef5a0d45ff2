#!/usr/bin/env bash
# Benchmark of `mysqlbackup backup` against the physical floor and the
# legacy shell pipeline, on the same data, in one run.
#
#   scripts/bench.sh [SIZE_GIB]      (default 2; fractions allowed, e.g. 0.2)
#
# Starts a throw-away MariaDB and MinIO on 127.0.0.1 under a temp dir, loads
# about SIZE_GIB of sysbench data, then measures side by side:
#   floor    mariabackup --backup --stream=xbstream > /dev/null
#   legacy   mariabackup --backup + --prepare, tar | gzip --fast | openssl des3, sha1sum (no upload)
#   mysqlbackup backup to MinIO, upload included (archive_format: legacy)
#   mysqlbackup-v2 backup to MinIO (archive_format: v2: xbstream, zstd, age)
#   mysqlbackup-v2-archive  the same with binlog-archive running and
#            backup_binlogs: archive: the binlogs stay in the binlog archive,
#            the backup stores the data stream only (the archive's one-time
#            catch-up of the existing binlogs is timed apart, archive-catchup)
#   legacy restore: openssl des3 -d | tar xz, then mariabackup --copy-back
#   mysqlbackup restore from MinIO, delta replay included (legacy archive)
#   mysqlbackup-v2 restore from MinIO (v2: download, age, zstd, mbstream,
#            prepare, copy back, replay)
#   mysqlbackup-v2-archive-restore  its delta from the binlog archive
# and, under a sysbench oltp_write_only load (LOAD_RATE transactions/s,
# default 50), the serving instance's share of a backup: a normal v2
# backup against `backup --from-scratch` (the latest backup restored
# beside the instance, replicated to its position, backed up there): the
# serving mariadbd's CPU time and bytes read, and the wall time.
# and prints wall time, CPU time, peak RSS, temp disk and the ratio of each
# wall time to the floor; then the upload bandwidth limit: a v2 backup
# without one, then with s3_max_upload_mb_per_s at THROTTLE_MIB_S (default
# a quarter of the unthrottled upload rate), the bytes it sends sampled
# each second against the limit.
# BENCH_ONLY=throttle measures the upload limit alone (after the load).
# Everything it starts is stopped by PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE_GIB=${1:-2}
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
export PATH="$(go env GOPATH)/bin:/usr/sbin:/sbin:$PATH"

. scripts/lib.sh
mb_ensure_packages mariadbd:mariadb-server mariabackup:mariadb-backup mariadb:mariadb-client sysbench:sysbench \
  /usr/bin/time:time curl:curl
command -v minio >/dev/null || (cd "$(mktemp -d)" && go install "github.com/minio/minio@$MINIO_VERSION")

work=$(mktemp -d /tmp/mbbench-XXXXXX)
MB_PIDS=()
trap 'mb_stop_all; rm -rf "$work"' EXIT

inst=$work/i1
s3port=$(mb_free_port)
echo "bench: starting MariaDB and MinIO (127.0.0.1:$s3port) under $work" >&2
mb_instance "$inst" 1 "innodb_buffer_pool_size=512M
innodb_log_file_size=256M
innodb_flush_log_at_trx_commit=2"
port=$(cat "$inst/port")
datadir=$inst/data/mysql-$port
mb_minio "$work/minio" "$s3port" bench bench-secret
minio_pid=${MB_PIDS[-1]}
mb_sql "$inst" "CREATE DATABASE sbtest"

# A sysbench row takes about 240 bytes on disk.
tables=8
rows=$(awk -v g="$SIZE_GIB" -v t="$tables" 'BEGIN { printf "%d", g * 1024 * 1024 * 1024 / 240 / t }')
echo "bench: loading $tables x $rows sysbench rows (~${SIZE_GIB} GiB)" >&2
sysbench oltp_read_write --db-driver=mysql --mysql-socket="$inst/run/mysqld.sock" --mysql-user=root \
  --tables=$tables --table-size=$rows --threads=2 prepare >/dev/null
mb_sql "$inst" "FLUSH TABLES; SET GLOBAL innodb_max_dirty_pages_pct=0"
sleep 5
data_bytes=$(du -sb "$datadir" | cut -f1)

(umask 077; printf 'des3 password\n' > "$inst/conf/des3_password")
cat > "$inst/conf/backup_conf.yaml" <<EOF
host: 127.0.0.1
data_base: $inst/data
backup_base: $inst/backup
port: $port
instance_id: 1
mysql_socket: $inst/run/mysqld.sock
s3_host: 127.0.0.1:$s3port
s3_bucket: bench
s3_access_key: bench
s3_secret_key: bench-secret
purge_binlog_days: 0
replication: {user: repl, password: repl-pw, source: []}
EOF
go build -o "$work/mysqlbackup" ./cmd/mysqlbackup
# The v2 configuration: the same plus the format and an age key pair.
pub=$("$work/mysqlbackup" keygen --output "$inst/conf/age.key")
{ cat "$inst/conf/backup_conf.yaml"
  printf 'archive_format: v2\nencryption_recipients: [%s]\nencryption_identity_file: age.key\n' "$pub"
} > "$inst/conf/backup_conf_v2_base.yaml"
{ cat "$inst/conf/backup_conf_v2_base.yaml"; echo "backup_binlogs: bundle"; } > "$inst/conf/backup_conf_v2.yaml"
{ cat "$inst/conf/backup_conf_v2_base.yaml"; echo "backup_binlogs: archive"; } > "$inst/conf/backup_conf_v2_archive.yaml"
# Create the bucket with a signed S3 PUT.
curl -sf -X PUT --aws-sigv4 "aws:amz:us-east-1:s3" --user bench:bench-secret "http://127.0.0.1:$s3port/bench" >/dev/null

declare -A wall cpu rss disk
measure() { # name, command…: records wall, CPU (user+sys) and peak RSS
  local name=$1; shift
  sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
  /usr/bin/time -f '%e %U %S %M' -o "$work/time.$name" "$@" >"$work/out.$name" 2>"$work/err.$name" || {
    echo "bench: $name failed:" >&2; tail -5 "$work/err.$name" >&2; exit 1; }
  read -r w u s m < "$work/time.$name"
  wall[$name]=$w; cpu[$name]=$(awk "BEGIN{print $u + $s}"); rss[$name]=$((m / 1024))
}

# upload_secs RESULT_FILE: the seconds of the phases of a v2 backup that
# upload (data, binlogs, my.cnf), from its result line (Go durations).
upload_secs() {
  grep -o ' \(data\|binlogs\|my\.cnf\)=[0-9.hms]*' "$1" | cut -d= -f2 | awk '
    { s = $0; while (match(s, /^[0-9.]+(h|ms|m|s)/)) {
        tok = substr(s, 1, RLENGTH); s = substr(s, RLENGTH + 1); v = tok + 0
        if (tok ~ /ms$/) t += v / 1000; else if (tok ~ /h$/) t += v * 3600; else if (tok ~ /m$/) t += v * 60; else t += v } }
    END { printf "%.3f", t }'
}

# sample_received PID FILE: every second while PID (a backup) lives, the
# time and the bytes MinIO has read (rchar: the request bodies it receives;
# nothing else reads from it meanwhile).
sample_received() {
  while [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" != Z ] && [ -e "/proc/$1" ]; do
    echo "$(mb_now) $(awk '/^rchar/ { print $2 }' "/proc/$minio_pid/io")" >> "$2"; sleep 1
  done
}

# throttle_bench: the same v2 backup without and with s3_max_upload_mb_per_s.
# The limit is checked on the bytes MinIO receives, sampled each second:
# the highest one-second rate, and the mean over the seconds it was sending
# (from the first to the last second above half the limit).
declare -A rate
throttle_bench() {
  local n=throttle-free size pid t0
  measure $n "$work/mysqlbackup" --conf-path "$inst/conf/backup_conf_v2.yaml" --date-str $n backup
  disk[$n]=0
  size=$(grep -o ' size=[0-9]*' "$work/out.$n" | cut -d= -f2)
  rate[$n]=$(mb_calc %.2f "$size / $(upload_secs "$work/out.$n") / 1048576")
  rate[limit]=${THROTTLE_MIB_S:-$(mb_calc %.1f "${rate[$n]} / 4")}
  n=throttled
  { cat "$inst/conf/backup_conf_v2.yaml"; echo "s3_max_upload_mb_per_s: ${rate[limit]}"; } > "$inst/conf/backup_conf_$n.yaml"
  sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
  t0=$(mb_now)
  "$work/mysqlbackup" --conf-path "$inst/conf/backup_conf_$n.yaml" --date-str $n backup >"$work/out.$n" 2>"$work/err.$n" &
  pid=$!; MB_PIDS+=("$pid")
  sample_received "$pid" "$work/sent.$n"
  wait "$pid" || { echo "bench: $n failed:" >&2; tail -5 "$work/err.$n" >&2; exit 1; }
  mb_forget "$pid"
  wall[$n]=$(mb_calc %.2f "$(mb_now) - $t0"); disk[$n]=0
  # The seconds of sending: from the first to the last one above half the
  # limit. Their mean, their median, and the highest rate over 5 s (the
  # receiver's socket buffers make single seconds uneven).
  awk -v lim="${rate[limit]}" '
    { t[NR] = $1; w[NR] = $2 }
    END { for (i = 2; i <= NR; i++) if ((w[i] - w[i-1]) / (t[i] - t[i-1]) / 1048576 > lim / 2) { if (!a) a = i - 1; b = i }
          for (i = a + 1; i <= b; i++) print "s", (w[i] - w[i-1]) / (t[i] - t[i-1]) / 1048576
          for (i = a + 5; i <= b; i++) print "w", (w[i] - w[i-5]) / (t[i] - t[i-5]) / 1048576
          printf "mean %.2f %.0f\n", (w[b] - w[a]) / (t[b] - t[a]) / 1048576, t[b] - t[a] }' "$work/sent.$n" > "$work/rates.$n"
  read -r _ rate[mean] rate[secs] < <(grep '^mean' "$work/rates.$n")
  rate[median]=$(awk '$1 == "s" { print $2 }' "$work/rates.$n" | sort -g | awk '{ v[NR] = $1 } END { printf "%.2f", v[int((NR + 1) / 2)] }')
  rate[max5]=$(awk '$1 == "w" && $2 > m { m = $2 } END { printf "%.2f", m }' "$work/rates.$n")
}
throttle_report() {
  local l=${rate[limit]}
  pct() { mb_calc %+.1f "($1 - $l) * 100 / $l"; }
  echo "upload limit (v2 backup; the bytes MinIO received during the throttled one, sampled each second):" \
    "unthrottled ${rate[throttle-free]} MiB/s (stored bytes over the uploading phases), wall ${wall[throttle-free]} s;" \
    "s3_max_upload_mb_per_s: $l: over ${rate[secs]} s of sending mean ${rate[mean]} MiB/s ($(pct "${rate[mean]}") %)," \
    "median second ${rate[median]} MiB/s ($(pct "${rate[median]}") %), highest 5 s ${rate[max5]} MiB/s ($(pct "${rate[max5]}") %); wall ${wall[throttled]} s"
  echo "throttled, MiB/s received each second of sending: $(awk '$1 == "s" { printf "%.1f ", $2 }' "$work/rates.throttled")"
  echo "throttle-free result line: $(cat "$work/out.throttle-free")"
  echo "throttled result line: $(cat "$work/out.throttled")"
}
if [ "${BENCH_ONLY:-}" = throttle ]; then
  throttle_bench
  echo; echo "data set: $(( data_bytes / 1024 / 1024 )) MiB in the datadir; $(nproc) cores"
  throttle_report
  exit 0
fi

cnf=$inst/conf/my.cnf
measure floor bash -c "mariabackup --defaults-file=$cnf --backup --stream=xbstream --target-dir=$inst/tmp > /dev/null"
disk[floor]=0
# The floor leaves out the binlogs every backup also carries (with sysbench's
# load, as large as the data): reading them is measured beside it.
measure binlog-read bash -c "cat $datadir/mysql-bin.0* > /dev/null"
disk[binlog-read]=0

legacy=$work/legacy; mkdir -p "$legacy"
measure legacy bash -c "set -o pipefail
  mariabackup --defaults-file=$cnf --backup --slave-info --target-dir=$legacy/mysql-$port-backup
  mariabackup --prepare --target-dir=$legacy/mysql-$port-backup
  cp $cnf $legacy/mysql-$port-backup/my.cnf
  mkdir $legacy/mysql-$port-binlog && cp $datadir/mysql-bin.0* $legacy/mysql-$port-binlog/
  tar -c -C $legacy mysql-$port-backup mysql-$port-binlog | gzip - --fast | openssl des3 -md md5 -pass file:$inst/conf/des3_password > $legacy/archive
  sha1sum $legacy/archive
  du -sb $legacy | cut -f1 > $work/legacy.disk"
disk[legacy]=$(cat "$work/legacy.disk")
archive_legacy=$(stat -c %s "$legacy/archive")
mv "$legacy/archive" "$work/legacy.archive"
rm -rf "$legacy"

# sampled NAME DIR… -- COMMAND…: measure COMMAND as NAME and record the peak
# disk use of the DIRs while it runs.
sampled() {
  local name=$1 dirs=() peakfile=$work/$1.disk; shift
  while [ "$1" != "--" ]; do dirs+=("$1"); shift; done; shift
  rm -f "$work/$name.done"
  ( peak=0; while [ ! -e "$work/$name.done" ]; do
      s=$(du -scb "${dirs[@]}" 2>/dev/null | tail -1 | cut -f1); [ "${s:-0}" -gt "$peak" ] && peak=$s; sleep 0.5
    done; echo "$peak" > "$peakfile" ) &
  local sampler=$!
  measure "$name" "$@"
  touch "$work/$name.done"; wait "$sampler"
  disk[$name]=$(cat "$peakfile")
}

sampled mysqlbackup "$inst/backup" -- "$work/mysqlbackup" --conf-path "$inst/conf/backup_conf.yaml" backup
archive_mb=$(grep -o 'size=[0-9]*' "$work/out.mysqlbackup" | cut -d= -f2)
sampled mysqlbackup-v2 "$inst/backup" -- "$work/mysqlbackup" --conf-path "$inst/conf/backup_conf_v2.yaml" --date-str v2 backup
archive_v2=$(grep -o ' size=[0-9]*' "$work/out.mysqlbackup-v2" | cut -d= -f2)
# The binlog archive: its catch-up of every existing binlog (once per
# server, then continuous), then binlog-archive left running as in
# production while the backup that leaves the binlogs to it runs.
measure archive-catchup "$work/mysqlbackup" --conf-path "$inst/conf/backup_conf_v2_archive.yaml" binlog-archive --once
disk[archive-catchup]=0
"$work/mysqlbackup" --conf-path "$inst/conf/backup_conf_v2_archive.yaml" binlog-archive >"$work/archiver.out" 2>"$work/archiver.log" &
arch=$!; MB_PIDS+=("$arch"); disown "$arch"
sampled mysqlbackup-v2-archive "$inst/backup" -- "$work/mysqlbackup" --conf-path "$inst/conf/backup_conf_v2_archive.yaml" --date-str v2a backup
archive_v2a=$(grep -o ' size=[0-9]*' "$work/out.mysqlbackup-v2-archive" | cut -d= -f2)
kill "$arch"; while kill -0 "$arch" 2>/dev/null; do sleep 0.1; done; mb_forget "$arch"

throttle_bench

# The serving instance's share of a backup, under writes: its mariadbd's
# CPU time (utime + stime) and bytes read (rchar, whatever the page cache
# held) during a normal v2 backup, then during --from-scratch.
serving_pid=$(cat "$inst/mysqld.ownpid")
serving() { awk '{ print $14 + $15 }' "/proc/$serving_pid/stat"; awk '/^rchar/ { print $2 }' "/proc/$serving_pid/io"; }
LOAD_RATE=${LOAD_RATE:-50}
sysbench oltp_write_only --db-driver=mysql --mysql-socket="$inst/run/mysqld.sock" --mysql-user=root \
  --tables=$tables --table-size=$rows --threads=1 --rate="$LOAD_RATE" --time=0 --report-interval=0 run >"$work/load.log" 2>&1 &
load=$!; MB_PIDS+=("$load"); disown "$load"
sleep 3
declare -A scpu sread
for n in under-load-v2 under-load-scratch; do
  args=(backup); [ "$n" = under-load-scratch ] && args=(backup --from-scratch)
  read -r c0 < <(serving | head -1); r0=$(serving | tail -1)
  measure "$n" "$work/mysqlbackup" --conf-path "$inst/conf/backup_conf_v2.yaml" --date-str "$n" "${args[@]}"
  read -r c1 < <(serving | head -1); r1=$(serving | tail -1)
  scpu[$n]=$(mb_calc %.2f "($c1 - $c0) / $(getconf CLK_TCK)"); sread[$n]=$(( (r1 - r0) / 1024 / 1024 ))
  disk[$n]=0
done
kill "$load"; while kill -0 "$load" 2>/dev/null; do sleep 0.1; done; mb_forget "$load"

# Restores, into an empty datadir, of the same data. The legacy leg stops
# after copy-back: it leaves out the legacy tool's download and its replay
# of every binlog, so it flatters the legacy tool.
mb_kill "$inst"
lr=$work/legacy-restore; mkdir -p "$lr"
measure legacy-restore bash -c "set -o pipefail
  openssl des3 -d -md md5 -pass file:$inst/conf/des3_password < $work/legacy.archive | tar -xzf - -C $lr
  mariabackup --defaults-file=$lr/mysql-$port-backup/my.cnf --copy-back --target-dir=$lr/mysql-$port-backup --datadir=$lr/datadir"
disk[legacy-restore]=$(( archive_legacy + $(du -sb "$lr" | cut -f1) ))
rm -rf "$lr" "$work/legacy.archive"
rm -rf "$datadir"
sampled mysqlbackup-restore "$inst/backup" "$inst/data" -- "$work/mysqlbackup" --conf-path "$inst/conf/backup_conf.yaml" --clean-after-restore restore
rm -rf "$datadir"
sampled mysqlbackup-v2-restore "$inst/backup" "$inst/data" -- "$work/mysqlbackup" --conf-path "$inst/conf/backup_conf_v2.yaml" --date-str v2 --clean-after-restore restore
rm -rf "$datadir"
sampled mysqlbackup-v2-archive-restore "$inst/backup" "$inst/data" -- "$work/mysqlbackup" --conf-path "$inst/conf/backup_conf_v2_archive.yaml" --date-str v2a --clean-after-restore restore

mib() { echo $(( $1 / 1024 / 1024 )); }
echo
echo "data set: $(mib "$data_bytes") MiB in the datadir; $(nproc) cores"
printf '%-22s %9s %9s %10s %12s %14s\n' run wall_s cpu_s peak_rss_MiB temp_disk_MiB wall/floor
for n in floor binlog-read legacy mysqlbackup mysqlbackup-v2 archive-catchup mysqlbackup-v2-archive throttle-free throttled under-load-v2 under-load-scratch legacy-restore mysqlbackup-restore mysqlbackup-v2-restore mysqlbackup-v2-archive-restore; do
  printf '%-22s %9s %9s %10s %12s %14s\n' "$n" "${wall[$n]}" "${cpu[$n]}" "${rss[$n]}" "$(mib "${disk[$n]}")" \
    "$(awk "BEGIN{printf \"%.2f\", ${wall[$n]} / ${wall[floor]}}")"
done
echo "archive: legacy $(mib "$archive_legacy") MiB (not uploaded), mysqlbackup $(mib "$archive_mb") MiB, mysqlbackup-v2 $(mib "$archive_v2") MiB, mysqlbackup-v2-archive $(mib "$archive_v2a") MiB (uploaded to MinIO; MinIO's CPU not counted)"
echo "v2 backup / (floor + binlog-read): $(awk "BEGIN{printf \"%.2f\", ${wall[mysqlbackup-v2]} / (${wall[floor]} + ${wall[binlog-read]})}")x; v2 backup with its binlogs in the archive / floor: $(awk "BEGIN{printf \"%.2f\", ${wall[mysqlbackup-v2-archive]} / ${wall[floor]}}")x"
echo "compressed size / datadir: legacy $(awk "BEGIN{printf \"%.3f\", $archive_mb / $data_bytes}"), v2 $(awk "BEGIN{printf \"%.3f\", $archive_v2 / $data_bytes}")"
echo "legacy wall / mysqlbackup wall: backup $(awk "BEGIN{printf \"%.2f\", ${wall[legacy]} / ${wall[mysqlbackup]}}")x, restore $(awk "BEGIN{printf \"%.2f\", ${wall[legacy-restore]} / ${wall[mysqlbackup-restore]}}")x"
echo "(legacy-restore stops after copy-back: no download, no binlog replay; mysqlbackup-restore is the whole restore from MinIO, replay included;"
echo " temp disk of a restore = the archive (legacy only: mysqlbackup streams it) + unpacked backup + the new datadir)"
echo "mysqlbackup result line: $(cat "$work/out.mysqlbackup")"
echo "mysqlbackup-v2 result line: $(cat "$work/out.mysqlbackup-v2")"
echo "mysqlbackup-v2-restore result line: $(cat "$work/out.mysqlbackup-v2-restore")"
echo "the serving instance during a backup, under sysbench oltp_write_only at $LOAD_RATE tps: normal v2 backup: mariadbd CPU ${scpu[under-load-v2]} s, read ${sread[under-load-v2]} MiB, and the engine reads its datadir ($(mib "$data_bytes") MiB); --from-scratch: mariadbd CPU ${scpu[under-load-scratch]} s, read ${sread[under-load-scratch]} MiB (replication), the engine reads the scratch copy's datadir only"
echo "under-load-scratch result line: $(cat "$work/out.under-load-scratch")"
echo "mysqlbackup-v2-archive result line: $(cat "$work/out.mysqlbackup-v2-archive")"
echo "mysqlbackup-v2-archive-restore result line: $(cat "$work/out.mysqlbackup-v2-archive-restore")"
throttle_report
echo "(peak_rss_MiB above is the largest of the process and its children, i.e. mariabackup too; peak_rss in the result line is mysqlbackup's own)"

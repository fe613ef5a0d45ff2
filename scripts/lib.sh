# Shell helpers shared by scripts/demo.sh, bench.sh, rpo.sh and
# pitr-bench.sh: throw-away MariaDB instances on 127.0.0.1 in the legacy
# layout and MinIO, stopped by PID. Source it; it defines functions only.

# mb_ensure_packages installs the Debian packages of the named programs
# that are missing (pairs program:package).
mb_ensure_packages() {
  local missing=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  echo "installing ${missing[*]}" >&2
  local sudo=; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# mb_free_port prints a TCP port nothing listens on.
mb_free_port() {
  local p
  while :; do
    p=$(shuf -i 20000-60000 -n 1)
    ss -ltn "sport = :$p" | grep -q LISTEN || { echo "$p"; return; }
  done
}

# mb_instance DIR ID [EXTRA_CNF] creates an instance under DIR in the
# legacy tool's layout: datadir DIR/data/mysql-PORT holding my.cnf (a copy
# of this host's own, conf_base DIR/conf/my.cnf), backup_base DIR/backup,
# socket DIR/run/mysqld.sock, pid-file DIR/run/mysqld-PORT.pid, log-bin in
# the datadir, no relay-log (relay logs are named after the pid-file),
# skip-slave-start; server_id and gtid_domain_id ID. It writes DIR/port
# and starts it (mb_start).
mb_instance() {
  local dir=$1 id=$2 extra=${3:-} port
  port=$(mb_free_port)
  mkdir -p "$dir/data" "$dir/conf" "$dir/backup" "$dir/run" "$dir/tmp"
  echo "$port" > "$dir/port"
  cat > "$dir/conf/my.cnf" <<CNF
[client]
socket=$dir/run/mysqld.sock
[mysqld]
user=root
datadir=$dir/data/mysql-$port
port=$port
bind-address=127.0.0.1
socket=$dir/run/mysqld.sock
pid-file=$dir/run/mysqld-$port.pid
log-error=$dir/error.log
tmpdir=$dir/tmp
server-id=$id
gtid_domain_id=$id
log-bin=$dir/data/mysql-$port/mysql-bin
log_slave_updates=ON
skip-slave-start
binlog_format=ROW
skip-name-resolve
innodb_use_native_aio=0
$extra
CNF
  TMPDIR=$dir/tmp mariadb-install-db --no-defaults --datadir="$dir/data/mysql-$port" --user=root \
    --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve >/dev/null
  cp "$dir/conf/my.cnf" "$dir/data/mysql-$port/my.cnf"
  mb_start "$dir"
  mb_sql "$dir" "SET SESSION sql_log_bin=0; DELETE FROM mysql.global_priv WHERE User=''; FLUSH PRIVILEGES;
    CREATE USER 'repl'@'%' IDENTIFIED BY 'repl-pw'; GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'repl'@'%'"
}

# mb_start DIR starts the instance's mariadbd as its normal start does,
# with the my.cnf in its datadir, and waits until it answers; its PID goes
# to DIR/mysqld.ownpid and to MB_PIDS.
mb_start() {
  local dir=$1 i
  mariadbd --defaults-file="$dir/data/mysql-$(cat "$dir/port")/my.cnf" >/dev/null 2>&1 &
  echo $! > "$dir/mysqld.ownpid"
  MB_PIDS+=("$!")
  disown "$!" # no job-control noise when a demo kills it on purpose
  for i in $(seq 600); do
    mb_sql "$dir" "SELECT 1" >/dev/null 2>&1 && return 0
    kill -0 "$(cat "$dir/mysqld.ownpid")" 2>/dev/null || { tail -5 "$dir/error.log" >&2; return 1; }
    sleep 0.1
  done
  echo "mariadbd in $dir did not answer" >&2
  return 1
}

# mb_kill DIR [SIGNAL] stops the instance's mariadbd by its PID and waits.
mb_kill() {
  local pid
  pid=$(cat "$1/mysqld.ownpid" 2>/dev/null) || return 0
  kill "-${2:-TERM}" "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
}

# mb_minio DIR PORT USER SECRET [VAR=value…] starts MinIO on
# 127.0.0.1:PORT with its data in DIR (its log DIR.log), the extra
# environment given, and waits until it answers; its PID goes to MB_PIDS.
mb_minio() {
  local dir=$1 port=$2 user=$3 secret=$4 i
  shift 4
  mkdir -p "$dir"
  env MINIO_ROOT_USER="$user" MINIO_ROOT_PASSWORD="$secret" MINIO_BROWSER=off MINIO_UPDATE=off "$@" \
    minio server --quiet --address "127.0.0.1:$port" "$dir" >"$dir.log" 2>&1 &
  MB_PIDS+=("$!")
  for i in $(seq 600); do curl -sf "http://127.0.0.1:$port/minio/health/live" >/dev/null && return 0; sleep 0.1; done
  echo "minio on 127.0.0.1:$port did not answer" >&2
  return 1
}

# mb_forget PID… drops processes known to be gone from MB_PIDS (their
# PIDs may be reused before the trap runs).
mb_forget() {
  local p q keep=()
  for p in "${MB_PIDS[@]}"; do
    for q in "$@"; do [ "$p" = "$q" ] && continue 2; done
    keep+=("$p")
  done
  MB_PIDS=("${keep[@]}")
}

# mb_now prints the time in seconds with nanoseconds; mb_calc FORMAT EXPR
# prints EXPR computed by awk in printf's FORMAT.
mb_now() { date +%s.%N; }
mb_calc() { awk "BEGIN { printf \"$1\", $2 }"; }

# mb_stop_all stops every process in MB_PIDS (for a trap).
mb_stop_all() {
  local p
  for p in "${MB_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${MB_PIDS[@]}"; do while kill -0 "$p" 2>/dev/null; do sleep 0.1; done; done
}

# mb_sql DIR SQL runs SQL as root over the instance's socket.
mb_sql() {
  mariadb --socket="$1/run/mysqld.sock" -uroot -N -B -e "$2"
}

# mb_replicate REPLICA_DIR SOURCE_DIR SOURCE_ID adds and starts channel master-ID.
mb_replicate() {
  mb_sql "$1" "CHANGE MASTER 'master-$3' TO MASTER_HOST='127.0.0.1', MASTER_PORT=$(cat "$2/port"),
    MASTER_USER='repl', MASTER_PASSWORD='repl-pw', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1;
    START SLAVE 'master-$3'"
}

# mb_wait_caught_up REPLICA_DIR SOURCE_DIR waits until the replica holds
# the source's binlog position (30 s at most).
mb_wait_caught_up() {
  local goal i
  goal=$(mb_sql "$2" "SELECT @@gtid_binlog_pos")
  for i in $(seq 300); do
    [ "$(mb_sql "$1" "SELECT MASTER_GTID_WAIT('$goal', 0.1)")" = 0 ] && return 0
  done
  echo "replica $1 did not catch up with $2" >&2
  return 1
}

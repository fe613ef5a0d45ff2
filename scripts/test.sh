#!/usr/bin/env bash
# Runs every test of mysqlbackup against real servers.
#
# Installs what the tests need when it is missing (Debian packages for
# MariaDB, mariabackup and the client tools; MinIO built with `go install`
# at a pinned version), then runs gofmt, go vet and go test with
# MYSQLBACKUP_TEST_REQUIRE=1, so a test that cannot find a server fails
# instead of skipping. CI runs exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

MINIO_MODULE=github.com/minio/minio
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c

export PATH="$(go env GOPATH)/bin:/usr/sbin:/sbin:$PATH"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

install_debian_packages() {
  local missing=()
  local pair
  for pair in mariadbd:mariadb-server mariadb-install-db:mariadb-server \
              mariabackup:mariadb-backup mbstream:mariadb-backup \
              mariadb:mariadb-client mariadb-binlog:mariadb-client \
              openssl:openssl gzip:gzip tar:tar sha1sum:coreutils \
              curl:curl flock:util-linux ss:iproute2 shuf:coreutils; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  echo "test.sh: installing ${missing[*]}" >&2
  as_root apt-get update -qq
  # The packaged service is not wanted: tests start their own servers.
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_minio() {
  local bin marker
  bin="$(go env GOPATH)/bin/minio"
  marker="$(go env GOPATH)/bin/.minio-version"
  if [ -x "$bin" ] && [ "$(cat "$marker" 2>/dev/null)" = "$MINIO_VERSION" ]; then
    return 0
  fi
  echo "test.sh: building MinIO $MINIO_VERSION (takes a few minutes)" >&2
  (cd "$(mktemp -d)" && go install "$MINIO_MODULE@$MINIO_VERSION")
  echo "$MINIO_VERSION" > "$marker"
}

install_debian_packages
install_minio

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "test.sh: gofmt would change: $unformatted" >&2
  exit 1
fi
go vet ./...
MYSQLBACKUP_TEST_REQUIRE=1 go test -count=1 -timeout 45m "$@" ./...

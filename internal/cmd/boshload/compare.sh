#!/bin/sh
# compare.sh runs the same boshload load against Prosody's mod_bosh,
# ejabberd's mod_bosh, boshd with its in-memory core (as it starts, held
# requests parked, and with -park=false: boshd-nopark; over h2c with
# $H2C_PER_CONN sessions on each HTTP/2 connection, as behind a
# multiplexing reverse proxy: boshd-h2c), and boshd relaying to the
# Prosody (-upstream tcp://), one after another, and prints a markdown
# table with each figure's ratio to the best of the two peers.
#
#   make compare                          # or: sh internal/cmd/boshload/compare.sh
#   SESSIONS=5000 MESSAGES=20 CLOSED_MESSAGES=20 RUNS=1 make compare
#   BOSHD=/path/boshd BOSHLOAD=/path/boshload make compare   # prebuilt binaries
#
# It installs prosody and ejabberd from Debian when they are missing
# (apt-get, as root or through sudo), and starts each server with its own
# configuration and data directory on free loopback ports: it never uses
# the packages' system services or their standard ports. Every server it
# starts is stopped at the end. Needs: go, python3, openssl.
#
# Each target runs closed loop (-messages $CLOSED_MESSAGES) for logins,
# idle RSS, CPU and throughput, and paced (-messages $MESSAGES every
# $INTERVAL) for the latency, $RUNS times each, every run on a freshly
# started server; the first table shows the medians.
#
# Then the fault runs: for each cut rate in $CUTS and each of $CUT_RUNS
# seeds (1, 2, …), $CUT_SESSIONS sessions send $CUT_MESSAGES messages each,
# one every $CUT_INTERVAL, while boshload cuts that fraction of the
# requests after login on the client's side and resends them (boshload
# -cut, -cut-seed; see its package doc), every run on a freshly started
# server with its default limits. The second table sums the runs: messages
# sent, lost, duplicated, reordered, echoed, bounced, stuck sessions, the sessions the
# server ended (by condition), and the slowest delivery. PERF=0 skips the performance runs, FAULTS=0
# the fault runs:
#
#   PERF=0 CUT_RUNS=5 make compare        # the fault table alone, five seeds per cut rate
set -eu

SESSIONS=${SESSIONS:-1000}
MESSAGES=${MESSAGES:-20}
CLOSED_MESSAGES=${CLOSED_MESSAGES:-20}
INTERVAL=${INTERVAL:-2s}
DURATION=${DURATION:-110s}
TARGETS=${TARGETS:-"prosody ejabberd boshd boshd-nopark boshd-h2c boshd-prosody"}
H2C_PER_CONN=${H2C_PER_CONN:-10}
RUNS=${RUNS:-3}
PERF=${PERF:-1}
FAULTS=${FAULTS:-1}
CUTS=${CUTS:-"0.1 0.3"}
CUT_RUNS=${CUT_RUNS:-3}
CUT_SESSIONS=${CUT_SESSIONS:-100}
CUT_MESSAGES=${CUT_MESSAGES:-50}
CUT_INTERVAL=${CUT_INTERVAL:-200ms}
# CUT_DRAIN: how long a fault run waits for messages after the last one
# arrived. Above boshload's 30 s 'wait', so that a message a server holds
# back until a request's wait runs out arrives within the run and shows as
# latency, not as lost.
CUT_DRAIN=${CUT_DRAIN:-35s}
CUT_DURATION=${CUT_DURATION:-120s}
# Accounts for the larger of the two loads.
ACCOUNTS=$SESSIONS
[ "$CUT_SESSIONS" -le "$ACCOUNTS" ] || ACCOUNTS=$CUT_SESSIONS
# EJABBERD_BACKLOG: ejabberd's listen queue. Its default, 5, is too short
# for a load: connections the kernel could not queue are never accepted,
# and the requests sent on them are lost with them.
BACKLOG=${EJABBERD_BACKLOG:-1024}
PASSWORD=bench-$$
DOMAIN=localhost

ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
WORK=$(mktemp -d /tmp/boshcompare.XXXXXX)
PIDS=""
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo

log() { echo "compare: $*" >&2; }

cleanup() {
	[ -n "${EJ_BEAM:-}" ] && kill "$EJ_BEAM" 2>/dev/null || true
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	for p in $PIDS; do wait "$p" 2>/dev/null || true; done
	[ -n "${EJDIR:-}" ] && rm -rf "$EJDIR"
	# epmd, if ejabberd's node started it (it was not running before).
	[ -n "${EPMD_BEFORE-x}" ] || { p=$(pgrep -x epmd) && kill $p; } 2>/dev/null || true
	log "logs and results kept in $WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

install_missing() {
	need=""
	command -v prosody >/dev/null || need="$need prosody"
	command -v ejabberdctl >/dev/null || need="$need ejabberd"
	[ -z "$need" ] && return
	log "installing$need from Debian"
	$SUDO apt-get update
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y $need
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_port PORT PID: waits until PORT accepts connections, or PID died.
wait_port() {
	i=0
	until python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),1)" 2>/dev/null; do
		kill -0 "$2" 2>/dev/null || { log "process $2 died"; return 1; }
		i=$((i + 1)); [ $i -lt 300 ] || { log "port $1 not open after 60s"; return 1; }
		sleep 0.2
	done
}

# forget PID: PID is no longer ours to stop at the end (it has exited, and
# its number may go to another process).
forget() {
	_rest=""
	for _pid in $PIDS; do [ "$_pid" = "$1" ] || _rest="$_rest $_pid"; done
	PIDS=$_rest
}

stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; forget "$1"; }

# ---- Prosody --------------------------------------------------------------

start_prosody() {
	d=$WORK/prosody
	rm -rf "$d"; mkdir -p "$d/data" "$d/certs"
	PROSODY_C2S=$(free_port); PROSODY_HTTP=$(free_port)
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$DOMAIN" \
		-addext "subjectAltName=DNS:$DOMAIN" -keyout "$d/certs/server.key" -out "$d/certs/server.crt" 2>/dev/null
	cat >"$d/prosody.cfg.lua" <<EOF
run_as_root = true
pidfile = "$d/prosody.pid"
data_path = "$d/data"
log = { { levels = { min = "warn" }, to = "file", filename = "$d/prosody.log" } }
interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
http_interfaces = { "127.0.0.1" }
c2s_ports = { $PROSODY_C2S }
http_ports = { $PROSODY_HTTP }
https_ports = { }
c2s_direct_tls_ports = { }
legacy_ssl_ports = { }
s2s_ports = { }
modules_enabled = { "roster", "saslauth", "tls", "disco", "ping", "bosh", "posix" }
modules_disabled = { "s2s", "offline" }
authentication = "internal_hashed"
storage = "internal"
consider_bosh_secure = true
c2s_require_encryption = true
ssl = { key = "$d/certs/server.key", certificate = "$d/certs/server.crt", options = { no_ticket = false } }
VirtualHost "$DOMAIN"
EOF
	# Accounts as prosodyctl register writes them (SCRAM-SHA-1, 4096 iterations).
	python3 - "$d/data" "$DOMAIN" "$ACCOUNTS" "$PASSWORD" <<'EOF'
import hashlib, hmac, os, secrets, sys
data, host, n, pw = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
enc = lambda s: "".join(c if c.isascii() and c.isalnum() else "%%%02x" % ord(c) for c in s)
d = os.path.join(data, enc(host), "accounts"); os.makedirs(d, exist_ok=True)
for i in range(1, n + 1):
    salt = secrets.token_hex(12)
    salted = hashlib.pbkdf2_hmac("sha1", pw.encode(), salt.encode(), 4096)
    stored = hashlib.sha1(hmac.new(salted, b"Client Key", "sha1").digest()).hexdigest()
    server = hmac.new(salted, b"Server Key", "sha1").hexdigest()
    with open(os.path.join(d, enc("user%d" % i) + ".dat"), "w") as f:
        f.write('return {\n\t["iteration_count"] = 4096;\n\t["stored_key"] = "%s";\n\t["server_key"] = "%s";\n\t["salt"] = "%s";\n};\n' % (stored, server, salt))
EOF
	prosody --config "$d/prosody.cfg.lua" -F >"$d/prosody.out" 2>&1 &
	PROSODY_PID=$!; PIDS="$PIDS $PROSODY_PID"
	wait_port "$PROSODY_HTTP" "$PROSODY_PID"
	wait_port "$PROSODY_C2S" "$PROSODY_PID"
	URL=http://127.0.0.1:$PROSODY_HTTP/http-bind; SERVER_PID=$PROSODY_PID
}

# ---- ejabberd -------------------------------------------------------------

start_ejabberd() {
	# ejabberdctl runs the node as the ejabberd user: its directory is its own.
	EJDIR=$(mktemp -d /tmp/boshcompare-ejabberd.XXXXXX)
	chmod 755 "$EJDIR"; mkdir -p "$EJDIR/spool" "$EJDIR/logs"
	# A node name of its own per start: a stopping node of an earlier run
	# must not be taken for this one.
	EJ_RUN=$((${EJ_RUN:-0} + 1))
	EJ_HTTP=$(free_port); EJ_NODE=boshcompare$$-$EJ_RUN@localhost
	cat >"$EJDIR/ejabberd.yml" <<EOF
hosts: ["$DOMAIN"]
loglevel: warning
log_rotate_count: 0
listen:
  - port: $EJ_HTTP
    ip: "127.0.0.1"
    module: ejabberd_http
    backlog: $BACKLOG
    request_handlers:
      /http-bind: mod_bosh
      /api: mod_http_api
api_permissions:
  "loopback register":
    from: [mod_http_api]
    who:
      ip: 127.0.0.1/8
    what: [register]
auth_method: internal
modules:
  mod_bosh: {}
  mod_http_api: {}
  mod_roster: {}
  mod_disco: {}
  mod_ping: {}
EOF
	# Our own ejabberdctl.cfg: the system one would point back to /etc/ejabberd/ejabberd.yml.
	cat >"$EJDIR/ejabberdctl.cfg" <<EOF
POLL=true
ERL_PROCESSES=250000
ERL_MAX_PORTS=65536
ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0"
INET_DIST_INTERFACE=127.0.0.1
ERL_EPMD_ADDRESS=127.0.0.1
EJABBERD_CONFIG_PATH=$EJDIR/ejabberd.yml
EJABBERD_PID_PATH=$EJDIR/ejabberd.pid
EOF
	chown -R ejabberd: "$EJDIR"
	EJCTL="ejabberdctl --ctl-config $EJDIR/ejabberdctl.cfg --config $EJDIR/ejabberd.yml --config-dir $EJDIR --spool $EJDIR/spool --logs $EJDIR/logs --node $EJ_NODE"
	# As the ejabberd user directly, not through ejabberdctl's su: su goes
	# through PAM, which puts the open-files limit back to 1024, and
	# ejabberd then refuses connections past about 500 sessions.
	ej_ctl foreground >"$WORK/ejabberd.out" 2>&1 &
	EJ_CTL=$!; PIDS="$PIDS $EJ_CTL"
	wait_port "$EJ_HTTP" "$EJ_CTL"
	# The server is the beam.smp process of our node, a descendant of EJ_CTL.
	SERVER_PID=$(pgrep -f "beam.smp.*-s?name $EJ_NODE( |$)" | head -1)
	[ -n "$SERVER_PID" ] || { log "no beam.smp for $EJ_NODE"; return 1; }
	EJ_BEAM=$SERVER_PID
	log "ejabberd: $(grep 'Max open files' /proc/$SERVER_PID/limits)"
	python3 - "$EJ_HTTP" "$DOMAIN" "$ACCOUNTS" "$PASSWORD" <<'EOF'
import http.client, json, sys
port, host, n, pw = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
for i in range(1, n + 1):
    c.request("POST", "/api/register", json.dumps({"user": "user%d" % i, "host": host, "password": pw}),
              {"Content-Type": "application/json"})
    r = c.getresponse(); body = r.read()
    if r.status != 200 and b"already" not in body:
        sys.exit("register user%d: HTTP %d %s" % (i, r.status, body[:200]))
EOF
	URL=http://127.0.0.1:$EJ_HTTP/http-bind
}

# ej_ctl ARGS...: ejabberdctl for our node, run as the ejabberd user with
# its HOME (and so its Erlang cookie) in our directory.
ej_ctl() {
	$SUDO setpriv --reuid=ejabberd --regid=ejabberd --init-groups env HOME="$EJDIR" \
		sh -c "ulimit -n $(ulimit -Hn) && exec $EJCTL $*"
}

stop_ejabberd() {
	ej_ctl stop >/dev/null 2>&1 || kill "$SERVER_PID" 2>/dev/null || true
	wait "$EJ_CTL" 2>/dev/null || true
	forget "$EJ_CTL"
	# The node may outlive ejabberdctl for a moment: the next run starts
	# only when it is gone.
	i=0
	while kill -0 "$EJ_BEAM" 2>/dev/null && [ $i -lt 150 ]; do sleep 0.2; i=$((i + 1)); done
	kill -9 "$EJ_BEAM" 2>/dev/null || true
	EJ_BEAM=""
	cp -r "$EJDIR/logs" "$WORK/ejabberd-logs.$EJ_RUN" 2>/dev/null || true
}

# ---- boshd ----------------------------------------------------------------

start_boshd() { # start_boshd [boshd flags...]
	port=$(free_port)
	"$WORK/boshd" -listen 127.0.0.1:$port -log-level warn "$@" >"$WORK/boshd.out" 2>&1 &
	SERVER_PID=$!; PIDS="$PIDS $SERVER_PID"
	wait_port "$port" "$SERVER_PID"
	URL=http://127.0.0.1:$port/http-bind
}

# ---- load -----------------------------------------------------------------

# load NAME MODE RUN: runs one load against $URL, $SERVER_PID.
load() {
	m=$CLOSED_MESSAGES; [ "$2" = paced ] && m=$MESSAGES
	log "$1: $2 run $3 of $RUNS, $SESSIONS sessions, $m messages each"
	"$WORK/boshload" -url "$URL" -domain "$DOMAIN" -password "$PASSWORD" -sessions "$SESSIONS" \
		-messages "$m" -mode "$2" -interval "$INTERVAL" -duration "$DURATION" -pid "$SERVER_PID" $LOAD_FLAGS \
		-json >"$WORK/$1.$2.$3.json" 2>"$WORK/$1.$2.$3.txt" || log "$1 $2: boshload failed (see $WORK/$1.$2.$3.txt)"
	sed 's/^/    /' "$WORK/$1.$2.$3.txt" >&2
}

# cutload NAME CUT RUN: runs one fault load against $URL: -cut CUT with
# seed RUN (see the head of this file).
cutload() {
	if [ -n "$LOAD_FLAGS" ]; then
		log "$1: no fault runs (boshload -cut speaks HTTP/1.1)"; return
	fi
	log "$1: cut $2, run $3 of $CUT_RUNS (seed $3), $CUT_SESSIONS sessions, $CUT_MESSAGES messages each every $CUT_INTERVAL"
	f=$WORK/$1.cut-$2.$3
	"$WORK/boshload" -url "$URL" -domain "$DOMAIN" -password "$PASSWORD" -sessions "$CUT_SESSIONS" \
		-messages "$CUT_MESSAGES" -mode paced -interval "$CUT_INTERVAL" -cut "$2" -cut-seed "$3" \
		-drain "$CUT_DRAIN" -duration "$CUT_DURATION" -json >"$f.json" 2>"$f.txt" || log "$1 cut $2: boshload failed (see $f.txt)"
	sed 's/^/    /' "$f.txt" >&2
}

# BOSHD_LIMITS lifts boshd's session-creation limits for the performance
# load, when the binary has the flags (a load test logs in faster than the
# defaults allow). LIMITS is what the next boshd gets.
BOSHD_LIMITS=""
LIMITS=""
# LOAD_FLAGS are the next load's extra boshload flags (boshd-h2c's).
LOAD_FLAGS=""

# one TARGET FN ARGS...: starts TARGET fresh, runs FN TARGET ARGS... (load
# or cutload), stops it.
one() {
	_t=$1; _fn=$2; shift 2
	case $_t in
	prosody) start_prosody; $_fn "$_t" "$@"; stop "$PROSODY_PID" ;;
	ejabberd) start_ejabberd; $_fn "$_t" "$@"; stop_ejabberd ;;
	boshd) start_boshd -users "$WORK/users" $LIMITS; $_fn "$_t" "$@"; stop "$SERVER_PID" ;;
	boshd-nopark) start_boshd -users "$WORK/users" -park=false $LIMITS; $_fn "$_t" "$@"; stop "$SERVER_PID" ;;
	boshd-h2c)
		start_boshd -users "$WORK/users" -h2c $LIMITS
		LOAD_FLAGS="-h2c -sessions-per-conn $H2C_PER_CONN"; $_fn "$_t" "$@"; LOAD_FLAGS=""
		stop "$SERVER_PID" ;;
	boshd-prosody)
		start_prosody; p=$PROSODY_PID
		start_boshd -upstream tcp://127.0.0.1:$PROSODY_C2S -domain $DOMAIN -upstream-ca "$WORK/prosody/certs/server.crt" $LIMITS
		$_fn "$_t" "$@"; stop "$SERVER_PID"; stop "$p" ;;
	*) log "unknown target $_t"; exit 2 ;;
	esac
}

install_missing
EPMD_BEFORE=$(pgrep -x epmd || true)
if [ -n "${BOSHD:-}" ] && [ -n "${BOSHLOAD:-}" ]; then # prebuilt binaries
	cp "$BOSHD" "$WORK/boshd"; cp "$BOSHLOAD" "$WORK/boshload"
else
	log "building boshd and boshload in $WORK"
	(cd "$ROOT" && go build -o "$WORK/boshd" ./examples/boshd && go build -o "$WORK/boshload" ./internal/cmd/boshload)
fi
(cd "$ROOT" && go build -o "$WORK/pollfloor" ./internal/cmd/pollfloor)
i=1; while [ $i -le "$ACCOUNTS" ]; do echo "user$i:$PASSWORD"; i=$((i + 1)); done >"$WORK/users"

if "$WORK/boshd" -h 2>&1 | grep -q -- -session-rate; then
	BOSHD_LIMITS="-session-rate 100000 -session-burst 100000 -max-sessions-per-address 1000000"
fi
versions() {
	echo "boshd: $(cd "$ROOT" && git describe --always --dirty 2>/dev/null || echo unknown), $(go version | cut -d' ' -f3-)"
	echo "prosody: $(dpkg-query -W -f '${Version}' prosody 2>/dev/null || echo unknown)"
	echo "ejabberd: $(dpkg-query -W -f '${Version}' ejabberd 2>/dev/null || echo unknown)"
	echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), Linux $(uname -r)"
}
versions >"$WORK/versions.txt"

if [ "$PERF" != 0 ]; then
LIMITS=$BOSHD_LIMITS
for t in $TARGETS; do
	for mode in closed paced; do
		r=1; while [ $r -le "$RUNS" ]; do one "$t" load $mode $r; r=$((r + 1)); done
	done
done

# The floor: a bare net/http long-poll echo with the paced traffic shape.
r=1; while [ $r -le "$RUNS" ]; do
	port=$(free_port)
	"$WORK/pollfloor" serve -listen 127.0.0.1:$port >"$WORK/floor.out" 2>&1 &
	SERVER_PID=$!; PIDS="$PIDS $SERVER_PID"
	wait_port "$port" "$SERVER_PID"
	log "floor: run $r of $RUNS, $SESSIONS clients, $MESSAGES messages each"
	"$WORK/pollfloor" load -url http://127.0.0.1:$port -pairs $((SESSIONS / 2)) -messages "$MESSAGES" \
		-interval "$INTERVAL" -duration "$DURATION" -json >"$WORK/floor.paced.$r.json" 2>"$WORK/floor.paced.$r.txt" || log "floor: failed"
	stop "$SERVER_PID"; r=$((r + 1))
done
fi

if [ "$FAULTS" != 0 ]; then
LIMITS=""
for t in $TARGETS; do
	for cut in $CUTS; do
		r=1; while [ $r -le "$CUT_RUNS" ]; do one "$t" cutload "$cut" $r; r=$((r + 1)); done
	done
done
fi

[ "$PERF" = 0 ] || python3 "$ROOT/internal/cmd/boshload/table.py" "$WORK" $TARGETS
if [ "$FAULTS" != 0 ]; then
	echo
	python3 "$ROOT/internal/cmd/boshload/table.py" -faults "$WORK" $TARGETS
fi
echo
cat "$WORK/versions.txt"

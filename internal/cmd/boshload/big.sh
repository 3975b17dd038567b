#!/bin/sh
# big.sh runs SESSIONS (default 20,000) concurrent sessions against boshd
# with its in-memory core on this machine: all log in, each holds a
# long-poll, then pairs exchange MESSAGES messages each in a closed loop.
# boshload prints the figures; the run passes when every login succeeded and
# no message was lost, duplicated or stuck.
#
#   make bigload                           # or: sh internal/cmd/boshload/big.sh
#   SESSIONS=20000 PER_CONN=2 MESSAGES=20 make bigload
#
# Why HTTP/2: a process here may open at most 20,000 files (the hard limit,
# which only root with CAP_SYS_RESOURCE could raise), and over HTTP/1.1
# every session holds a connection of its own, and a second one while it
# sends. boshd therefore speaks h2c, and boshload puts PER_CONN sessions on
# one HTTP/2 connection (default 2: 10,000 connections for 20,000 sessions),
# as a multiplexing reverse proxy in front of a BOSH server does.
set -eu

SESSIONS=${SESSIONS:-20000}
MESSAGES=${MESSAGES:-20}
PER_CONN=${PER_CONN:-2}
DURATION=${DURATION:-10m}
PASSWORD=big-$$

ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
WORK=$(mktemp -d /tmp/boshbig.XXXXXX)
BOSHD_PID=""
log() { echo "bigload: $*" >&2; }
cleanup() {
	[ -n "$BOSHD_PID" ] && kill "$BOSHD_PID" 2>/dev/null && wait "$BOSHD_PID" 2>/dev/null
	log "logs and results kept in $WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

log "building boshd and boshload in $WORK"
(cd "$ROOT" && go build -o "$WORK/boshd" ./examples/boshd && go build -o "$WORK/boshload" ./internal/cmd/boshload)
i=1; while [ $i -le "$SESSIONS" ]; do echo "user$i:$PASSWORD"; i=$((i + 1)); done >"$WORK/users"

ulimit -n "$(ulimit -Hn)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$WORK/boshd" -listen 127.0.0.1:$port -h2c -log-level warn -users "$WORK/users" \
	-max-sessions $((SESSIONS + 1000)) -max-sessions-per-address $((SESSIONS + 1000)) \
	-session-rate 100000 -session-burst 100000 >"$WORK/boshd.out" 2>&1 &
BOSHD_PID=$!
# The in-memory core salts every account (SCRAM, 4096 iterations) before it listens.
i=0
until grep -q 'listening\|serving' "$WORK/boshd.out" 2>/dev/null && python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null; do
	kill -0 "$BOSHD_PID" 2>/dev/null || { cat "$WORK/boshd.out" >&2; log "boshd died"; exit 1; }
	i=$((i + 1)); [ $i -lt 1500 ] || { log "boshd not listening after 5 minutes"; exit 1; }
	sleep 0.2
done
log "$SESSIONS sessions, $PER_CONN per HTTP/2 connection, $MESSAGES messages each"
"$WORK/boshload" -url http://127.0.0.1:$port/http-bind -h2c -sessions-per-conn "$PER_CONN" \
	-sessions "$SESSIONS" -password "$PASSWORD" -messages "$MESSAGES" -mode closed \
	-duration "$DURATION" -pid "$BOSHD_PID" -json >"$WORK/result.json" || true
python3 - "$WORK/result.json" "$SESSIONS" <<'EOF'
import json, sys
r = json.loads(open(sys.argv[1]).readline())
bad = {k: r[k] for k in ("login_failures", "lost", "duplicated", "sessions_stuck", "sessions_failed") if r.get(k)}
if r.get("logged_in") != int(sys.argv[2]) or r.get("delivered") != r.get("expected") or bad:
    sys.exit("bigload: FAILED: %d logged in, %d of %d delivered, %s" % (r.get("logged_in", 0), r.get("delivered", 0), r.get("expected", 0), bad))
print("bigload: passed: %d sessions logged in, %d of %d messages delivered, 0 lost, 0 duplicated, 0 stuck" % (r["logged_in"], r["delivered"], r["expected"]))
EOF

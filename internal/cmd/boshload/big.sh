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

NAME=bigload
. "$(dirname "$0")/bigboshd.sh"
start_boshd -h2c
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

#!/bin/sh
# bigidle.sh holds SESSIONS (default 19,600) idle sessions over HTTP/1.1 in
# one boshd with its in-memory core, each with its held request parked
# (bosh.Serve), and prints boshd's RSS per idle session over all of them.
# It passes when every session logged in and boshd counts them all held and
# parked (/debug/vars).
#
#   make bigidle                          # or: sh internal/cmd/boshload/bigidle.sh
#   SESSIONS=10000 make bigidle
#
# Why 19,600 and two boshload processes: a process here may open at most
# 20,000 files, and over HTTP/1.1 every idle session holds one connection,
# in boshd and in its client. 19,600 sessions leave boshd room for its
# listener, its logs, the connections of logins in progress and the
# script's own requests to /debug/vars; each boshload process holds half
# of them. The first keeps its sessions idle
# (-idle) while the second logs in; the second's figures are then those of
# the sessions from SESSIONS/2 to SESSIONS, and the script's own are from
# boshd's VmRSS before the first login and with all sessions idle. No
# messages are sent: a session that sends holds a second connection
# (make bigload runs messages at 20,000 sessions over h2c).
set -eu

SESSIONS=${SESSIONS:-19600}
HALF=$((SESSIONS / 2))
PASSWORD=bigidle-$$

NAME=bigidle
. "$(dirname "$0")/bigboshd.sh"
start_boshd

rss() { awk '/VmRSS/ {print $2}' "/proc/$BOSHD_PID/status"; } # KiB
# counts prints boshd's sessions, held and parked requests, or 0 0 0 when
# /debug/vars does not answer within 5 s.
counts() {
	curl -s --max-time 5 "http://127.0.0.1:$port/debug/vars" | python3 -c '
import json, sys
try:
    b = json.load(sys.stdin)["bosh"]
    print(b["Sessions"], b["Held"], b["Parked"])
except Exception:
    print(0, 0, 0)'
}
# wait_parked N: until N requests are parked (10 minutes at most).
wait_parked() {
	want=$1; i=0
	while :; do
		set -- $(counts)
		[ "$3" -ge "$want" ] && return 0
		i=$((i + 1)); [ $i -lt 1200 ] || { log "only $3 of $want requests parked"; exit 1; }
		sleep 0.5
	done
}

before=$(rss)
log "$SESSIONS sessions over HTTP/1.1, in two boshload processes of $HALF"
"$WORK/boshload" -url http://127.0.0.1:$port/http-bind -sessions "$HALF" -password "$PASSWORD" \
	-messages 0 -idle 15m -login-concurrency 32 -duration 20m -json >"$WORK/first.json" 2>"$WORK/first.txt" &
PIDS="$! $PIDS"
wait_parked "$HALF"
"$WORK/boshload" -url http://127.0.0.1:$port/http-bind -first $((HALF + 1)) -sessions "$HALF" -password "$PASSWORD" \
	-messages 0 -idle 60s -login-concurrency 32 -duration 15m -pid "$BOSHD_PID" -json >"$WORK/second.json" 2>"$WORK/second.txt" &
second=$!
wait_parked $((2 * HALF))
sleep 2
idle=$(rss)
set -- $(counts)
fds=$(ls "/proc/$BOSHD_PID/fd" | wc -l)
wait "$second" || true
sed 's/^/  /' "$WORK/second.txt" >&2
python3 - "$WORK/second.json" "$HALF" "$before" "$idle" "$1" "$2" "$3" "$fds" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).readline())
half, before, idle, sessions, held, parked, fds = (int(a) for a in sys.argv[2:])
if r.get("logged_in") != half or r.get("login_failures"):
    sys.exit("bigidle: FAILED: %d of %d logged in, %d login failures" % (r.get("logged_in", 0), half, r.get("login_failures", 0)))
print("bigidle: passed: %d sessions, %d held, %d parked in one boshd (%d open files)" % (sessions, held, parked, fds))
print("bigidle: boshd RSS %.1f MB before, %.1f MB with every session idle: %.1f KB per idle session" %
      (before * 1.024 / 1000, idle * 1.024 / 1000, (idle - before) * 1024 / 1000 / sessions))
print("bigidle: the second %d sessions alone: %.1f KB per idle session, CPU %.3f ms per login" %
      (half, r["server"]["idle_rss_per_session"] / 1000, r["server"]["cpu_per_login_ms"]))
PY

# bigboshd.sh is sourced by big.sh and bigidle.sh (make bigload, make
# bigidle): it makes a work directory, builds boshd and boshload into it,
# writes SESSIONS accounts with PASSWORD, raises the file limit to the hard
# one, and defines start_boshd, which starts boshd with its in-memory core
# on a free loopback port and waits until it listens. NAME is the log
# prefix. The processes in PIDS are stopped on exit.

ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
WORK=$(mktemp -d "/tmp/$NAME.XXXXXX")
PIDS=""
log() { echo "$NAME: $*" >&2; }
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	log "logs and results kept in $WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

log "building boshd and boshload in $WORK"
(cd "$ROOT" && go build -o "$WORK/boshd" ./examples/boshd && go build -o "$WORK/boshload" ./internal/cmd/boshload)
i=1; while [ $i -le "$SESSIONS" ]; do echo "user$i:$PASSWORD"; i=$((i + 1)); done >"$WORK/users"
ulimit -n "$(ulimit -Hn)"

# start_boshd [boshd flags...]: boshd for SESSIONS sessions on port, its
# pid in BOSHD_PID.
start_boshd() {
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	"$WORK/boshd" -listen 127.0.0.1:$port -log-level warn -users "$WORK/users" \
		-max-sessions $((SESSIONS + 1000)) -max-sessions-per-address $((SESSIONS + 1000)) \
		-session-rate 100000 -session-burst 100000 "$@" >"$WORK/boshd.out" 2>&1 &
	BOSHD_PID=$!; PIDS="$BOSHD_PID $PIDS"
	# The in-memory core salts every account (SCRAM, 4096 iterations) before it listens.
	i=0
	until grep -q 'listening\|serving' "$WORK/boshd.out" 2>/dev/null && python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null; do
		kill -0 "$BOSHD_PID" 2>/dev/null || { cat "$WORK/boshd.out" >&2; log "boshd died"; exit 1; }
		i=$((i + 1)); [ $i -lt 1500 ] || { log "boshd not listening after 5 minutes"; exit 1; }
		sleep 0.2
	done
}

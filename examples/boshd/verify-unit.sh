#!/bin/sh
# verify-unit.sh checks examples/boshd/boshd.service with Debian's
# systemd-analyze, as `make unit` (part of `make test`) runs it:
#
#   - verify: the unit parses, every directive is known and valid, and its
#     ExecStart is an executable. Any message fails the check, since
#     systemd-analyze reports unknown or invalid directives but exits 0.
#   - security: the sandbox's exposure level stays "OK", at most 2.0 of 10
#     (--threshold counts in tenths).
#
# verify needs ExecStart's binary at its path, /usr/local/bin/boshd. The
# check builds boshd and, in a mount namespace of its own (unshare, as
# root), mounts the build's directory over /usr/local/bin: the system's
# files are never touched, and the unit is checked as written. Where no
# mount namespace can be made (an unprivileged container), it checks a
# copy whose ExecStart names the built binary instead.
set -eu
cd "$(dirname "$0")"
unit=$PWD/boshd.service
exec_path=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unit")
[ -n "$exec_path" ] || { echo "verify-unit: no ExecStart in $unit" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bin"
go build -o "$tmp/bin/$(basename "$exec_path")" .

if unshare --mount true 2>/dev/null; then
	how="as written, with $exec_path mounted from the build"
	out=$(unshare --mount sh -c 'mount --bind "$1" "$2" && systemd-analyze verify "$3"' sh \
		"$tmp/bin" "$(dirname "$exec_path")" "$unit" 2>&1) || { echo "$out" >&2; exit 1; }
else
	how="a copy with ExecStart=$tmp/bin/$(basename "$exec_path") (no mount namespace here)"
	sed "s|^ExecStart=$exec_path|ExecStart=$tmp/bin/$(basename "$exec_path")|" "$unit" >"$tmp/boshd.service"
	out=$(systemd-analyze verify "$tmp/boshd.service" 2>&1) || { echo "$out" >&2; exit 1; }
fi
if [ -n "$out" ]; then
	echo "verify-unit: systemd-analyze verify $unit:" >&2
	echo "$out" >&2
	exit 1
fi
echo "verify-unit: systemd-analyze verify: boshd.service is valid ($how)"

out=$(systemd-analyze security --offline=yes --threshold=20 "$unit" 2>&1) || { echo "$out" >&2; exit 1; }
echo "verify-unit: systemd-analyze security: $(echo "$out" | grep 'Overall exposure level')"

"""table.py [-faults] WORKDIR TARGET...: the markdown tables of compare.sh.

Reads WORKDIR/TARGET.MODE.N.json (boshload -json lines; MODE closed or paced,
N the run) and prints one row per figure, one column per target, each the
median over the runs; for targets that are
not peers (prosody, ejabberd), each figure is followed by its ratio to the
best peer's value in the same run: value / best (lower is better where the
row says so).

With -faults it reads WORKDIR/TARGET.cut-RATE.N.json (boshload -cut RATE
-cut-seed N) instead and prints one row per target and cut rate, the sums
over the runs: messages sent, lost, duplicated, reordered, echoed (handed
back to their sender), bounced (returned to their sender as errors), stuck
sessions, sessions the server ended (by condition), messages later than
5 s, the slowest delivery and the requests cut; below the table, anything
else that went wrong (failed runs, foreign messages, resends given up,
login failures).
"""
import glob, json, os, re, sys

faults = len(sys.argv) > 1 and sys.argv[1] == "-faults"
if faults:
    del sys.argv[1]
work, targets = sys.argv[1], sys.argv[2:]


def fault_table():
    def num(v):
        return "{:,}".format(v)

    print("| target | cut | messages sent | lost | duplicated | reordered | echoed | bounced | stuck sessions "
          "| sessions ended by the server | late (> 5 s) | latency max (ms) | requests cut / sent |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    notes, nruns = [], set()
    for t in targets:
        by_rate = {}
        for path in glob.glob(os.path.join(work, "%s.cut-*.json" % t)):
            m = re.match(re.escape(t) + r"\.cut-(.+)\.(\d+)\.json$", os.path.basename(path))
            if not m:
                continue
            try:
                with open(path) as f:
                    r = json.loads(f.readline())
            except (OSError, ValueError):
                r = None  # boshload failed: a run without figures
            by_rate.setdefault(m.group(1), []).append(r)
        for rate in sorted(by_rate, key=float):
            rs = by_rate[rate]
            ok = [r for r in rs if r]
            nruns.add(len(rs))
            tot = lambda k: sum(r.get(k) or 0 for r in ok)
            fault = lambda k: sum((r.get("faults") or {}).get(k) or 0 for r in ok)
            ended = {}
            for r in ok:
                for c, n in (r.get("sessions_ended") or {}).items():
                    ended[c] = ended.get(c, 0) + n
            ended_s = "0" if not ended else "%d: %s" % (
                sum(ended.values()), ", ".join("%d× %s" % (n, c) for c, n in sorted(ended.items(), key=lambda x: -x[1])))
            lat = max([r.get("latency_max_ms") or 0 for r in ok] + [0])
            cut = "%g%%" % (float(rate) * 100)
            print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s |" % (
                t, cut, num(tot("sent")), num(tot("lost")), num(tot("duplicated")), num(tot("out_of_order")),
                num(tot("echoed")), num(tot("bounced")), num(tot("sessions_stuck")), ended_s, num(tot("late")),
                "{:,.0f}".format(lat), num(fault("cut")), num(fault("attempts"))))
            for what, n in (("runs without figures (boshload failed)", len(rs) - len(ok)),
                            ("foreign messages (misrouted or unreadable)", tot("foreign")),
                            ("requests given up after repeated network errors", fault("gave_up")),
                            ("login failures", tot("login_failures"))):
                if n:
                    notes.append("- %s, cut %s: %s %s" % (t, cut, num(n), what))
    print()
    print("Sums over %s runs per row, each with its own seed (boshload -cut-seed) on a freshly started server."
          % "/".join(str(n) for n in sorted(nruns)))
    if notes:
        print()
        print("\n".join(notes))
    else:
        print("No run failed; no foreign message, no request given up, no login failure.")


if faults:
    fault_table()
    sys.exit(0)
PEERS = ("prosody", "ejabberd")

def load(t, mode):
    out, n = [], 1
    while os.path.exists(os.path.join(work, "%s.%s.%d.json" % (t, mode, n))):
        try:
            with open(os.path.join(work, "%s.%s.%d.json" % (t, mode, n))) as f:
                out.append(json.loads(f.readline()))
        except (OSError, ValueError):
            pass
        n += 1
    return out

runs = {t: {m: load(t, m) for m in ("closed", "paced")} for t in targets}
nruns = max([len(v) for r in runs.values() for v in r.values()] + [0])

def srv(key):
    return lambda r: (r.get("server") or {}).get(key)

# (label, mode, getter, better): better is "lower", "higher" or None (no ratio).
ROWS = [
    ("logins/s", "closed", lambda r: r["logins_per_second"], "higher"),
    ("login failures", "closed", lambda r: r["login_failures"], None),
    ("RSS per idle held session (KB)", "closed", lambda r: srv("idle_rss_per_session")(r) / 1024, "lower"),
    ("server CPU per login (ms)", "closed", srv("cpu_per_login_ms"), "lower"),
    ("server CPU per delivered message (ms), closed loop", "closed", srv("cpu_per_1000_messages_seconds"), "lower"),
    ("delivered msgs/s, closed loop", "closed", lambda r: r["delivered_per_second"], "higher"),
    ("latency p50 (ms), closed loop", "closed", lambda r: r["latency_p50_ms"], "lower"),
    ("latency p99 (ms), closed loop", "closed", lambda r: r["latency_p99_ms"], "lower"),
    ("server CPU per delivered message (ms), paced", "paced", srv("cpu_per_1000_messages_seconds"), "lower"),
    ("latency p50 (ms), paced", "paced", lambda r: r["latency_p50_ms"], "lower"),
    ("latency p99 (ms), paced", "paced", lambda r: r["latency_p99_ms"], "lower"),
    ("latency max (ms), paced", "paced", lambda r: r["latency_max_ms"], "lower"),
    ("lost / duplicated / stuck (all runs)", None, None, None),
    ("client CPU (s), closed loop", "closed", lambda r: r["client_cpu_seconds"], None),
]

def fmt(v):
    if v is None:
        return "n/a"
    if isinstance(v, int) or abs(v) >= 100:
        return "{:,.0f}".format(v)
    return "{:.3g}".format(v)

def value(t, mode, get):
    vals = []
    for r in runs[t][mode]:
        try:
            v = get(r)
        except (KeyError, TypeError):
            v = None
        if v is not None:
            vals.append(v)
    if not vals:
        return None
    vals.sort()
    n = len(vals)
    return vals[n // 2] if n % 2 else (vals[n // 2 - 1] + vals[n // 2]) / 2

def integrity(t):
    parts = []
    for key in ("lost", "duplicated", "sessions_stuck"):
        vals = [r[key] for m in ("closed", "paced") for r in runs[t][m]]
        parts.append(str(sum(vals)) if vals else "n/a")
    return " / ".join(parts)

print("| figure | " + " | ".join(targets) + " |")
print("|---|" + "---|" * len(targets))
for label, mode, get, better in ROWS:
    if get is None:
        print("| %s | %s |" % (label, " | ".join(integrity(t) for t in targets)))
        continue
    vals = {t: value(t, mode, get) for t in targets}
    peers = [vals[p] for p in PEERS if vals.get(p) is not None]
    best = None
    if better and peers:
        best = min(peers) if better == "lower" else max(peers)
    cells = []
    for t in targets:
        c = fmt(vals[t])
        if t not in PEERS and best and vals[t] is not None:
            c += " (×%.2f)" % (vals[t] / best)
        cells.append(c)
    print("| %s | %s |" % (label + ("" if not better else " — " + better + " is better"), " | ".join(cells)))
print()
floor = {"paced": load("floor", "paced")}
if floor["paced"]:
    runs["floor"] = floor
    f50 = value("floor", "paced", lambda r: r["latency_p50_ms"])
    f99 = value("floor", "paced", lambda r: r["latency_p99_ms"])
    print()
    print("Floor, a bare net/http long-poll echo with the same paced traffic (internal/cmd/pollfloor):"
          " p50 %s ms, p99 %s ms." % (fmt(f50), fmt(f99)))
    for t in targets:
        v = value(t, "paced", lambda r: r["latency_p50_ms"])
        if v is not None and f50:
            print("- %s: paced p50 is ×%.2f the floor's" % (t, v / f50))
print()
print("Medians of %d runs, each on a freshly started server." % nruns)
print("Ratios (×) are to the best of %s in this run. boshd-nopark: boshd -park=false (held requests"
      " wait on their goroutines). boshd-h2c: boshd -h2c, the load over HTTP/2 with prior knowledge,"
      " several sessions a connection (compare.sh's H2C_PER_CONN). boshd-prosody: boshd relaying to the same"
      " Prosody over c2s; its server figures are boshd's process only." % ", ".join(p for p in PEERS if p in targets))

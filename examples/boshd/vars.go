package main

import (
	"encoding/json"
	"expvar"
	"net/http"
	"os"
	"runtime"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/bosh/cluster"
)

// namedVar is one top-level entry of /debug/vars.
type namedVar struct {
	name string
	v    expvar.Var
}

// varsHandler serves the handler's counters in expvar's JSON format, like
// expvar.Handler, but from values of this handler only: "bosh" is
// Handler.Stats (sessions open, requests held, requests served, bytes, and
// sessions ended by reason), next to "cmdline" and "memstats", and, for a
// node among several, "cluster": cluster.Handler.Stats. Nothing is
// published in expvar's global registry, so run can be called more than
// once in a process.
func varsHandler(h *bosh.Handler, ch *cluster.Handler) http.Handler {
	vars := []namedVar{
		{"bosh", expvar.Func(func() any { return h.Stats() })},
		{"cmdline", expvar.Func(func() any { return os.Args })},
		{"memstats", expvar.Func(func() any {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			return m
		})},
	}
	if ch != nil {
		vars = append(vars, namedVar{"cluster", expvar.Func(func() any { return ch.Stats() })})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out := make(map[string]json.RawMessage, len(vars))
		for _, v := range vars {
			out[v.name] = json.RawMessage(v.v.String())
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(out)
	})
}

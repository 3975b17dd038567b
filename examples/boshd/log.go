package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/xmppstream"
)

// parseLogFormat parses -log-format: text or json.
func parseLogFormat(s string) (string, error) {
	switch f := strings.ToLower(s); f {
	case "text", "json":
		return f, nil
	}
	return "", fmt.Errorf("-log-format %q is not text or json", s)
}

// logger returns boshd's logger, writing to w at -log-level in the
// -log-format: slog's TextHandler (key=value pairs) or JSONHandler (one
// JSON object a line, for log collectors).
func (o *options) logger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: o.level}
	if o.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// probe returns the check of the XMPP server of -upstream for /readyz, or
// nil for the in-memory core, which has nothing to reach.
func probe(up bosh.Upstream) func(context.Context) error {
	if tcp, ok := up.(*xmppstream.TCPUpstream); ok {
		return tcp.Probe
	}
	return nil
}

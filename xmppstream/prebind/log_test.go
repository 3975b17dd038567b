package prebind_test

import (
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/internal/syncbuf"
	"github.com/httpbind/httpbind/xmppstream/prebind"
	"github.com/httpbind/httpbind/xmppstream/xmpptest"
)

func TestLogsHoldNoSecrets(t *testing.T) {
	// Debug logs of successful and failed prebinds, through Endpoint,
	// never contain the password or SASL data.
	srv, _ := newServer(t, xmpptest.Config{})
	var logs syncbuf.Buffer
	p, err := prebind.New(prebind.Config{Handler: srv.Handler, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	require.NoError(t, err)
	for _, password := range []string{"wonderland", "not-wonderland"} {
		ep := prebind.Endpoint(p, func(*http.Request) (prebind.Request, error) {
			return prebind.Request{Domain: "localhost", User: "alice", Password: password}, nil
		})
		w := httptest.NewRecorder()
		ep.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/prebind", nil))
		assert.NotContains(t, w.Body.String(), password)
	}
	out := logs.String()
	require.Contains(t, out, "prebind: failed", "the failure is logged")
	for _, secret := range []string{"wonderland", base64.StdEncoding.EncodeToString([]byte("\x00alice\x00wonderland"))} {
		assert.NotContains(t, out, secret)
	}
}

package boshprom_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/bosh/boshprom"
)

// silent is an upstream whose streams take payloads and say nothing.
type silent struct{}

func (silent) Open(context.Context, *bosh.OpenRequest, bosh.Sink) (bosh.Stream, error) {
	return silent{}, nil
}
func (silent) Send(context.Context, *bosh.Request) error { return nil }
func (silent) Close(bosh.Closing)                        {}

func TestCollector(t *testing.T) {
	h, err := bosh.NewHandler(silent{}, bosh.Config{})
	require.NoError(t, err)
	defer h.Shutdown(context.Background())
	c := boshprom.NewCollector(h)
	problems, err := testutil.CollectAndLint(c)
	require.NoError(t, err)
	assert.Empty(t, problems, "metric names and help follow Prometheus' conventions")

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(
		"<body rid='1' to='example.com' wait='60' hold='1' ver='1.11' xmlns='http://jabber.org/protocol/httpbind'/>")))
	require.Equal(t, http.StatusOK, rec.Code)
	assert.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(`
# HELP bosh_sessions BOSH sessions open now.
# TYPE bosh_sessions gauge
bosh_sessions 1
# HELP bosh_sessions_created_total Sessions created.
# TYPE bosh_sessions_created_total counter
bosh_sessions_created_total 1
# HELP bosh_sessions_by_state Open sessions by what they hold: held (a request is held), paused, idle (no request held).
# TYPE bosh_sessions_by_state gauge
bosh_sessions_by_state{state="held"} 0
bosh_sessions_by_state{state="idle"} 1
bosh_sessions_by_state{state="paused"} 0
`), "bosh_sessions", "bosh_sessions_created_total", "bosh_sessions_by_state"))
}

// ExampleNewCollector serves a handler's metrics beside it.
func ExampleNewCollector() {
	h, err := bosh.NewHandler(silent{}, bosh.Config{})
	if err != nil {
		panic(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(boshprom.NewCollector(h))
	mux := http.NewServeMux()
	mux.Handle("/http-bind", h)
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(line, "bosh_sessions ") {
			fmt.Println(line)
		}
	}
	// Output: bosh_sessions 0
}

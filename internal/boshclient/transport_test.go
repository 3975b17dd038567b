package boshclient

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/bosh"
)

func TestHandlerTransport(t *testing.T) {
	var got *http.Request
	tr := &HandlerTransport{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got = r
			w.Header().Set("Retry-After", "5")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("busy"))
		}),
		RemoteAddr: "192.0.2.7:4242",
		TLS:        &tls.ConnectionState{},
		Header:     http.Header{"X-Forwarded-For": {"198.51.100.1"}},
	}
	wrote := false
	ctx := httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { wrote = true },
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "/http-bind", strings.NewReader("<body/>"))
	require.NoError(t, err)
	res, err := (&http.Client{Transport: tr}).Do(req)
	require.NoError(t, err)
	assert.True(t, wrote, "the request is reported written")
	assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	assert.Equal(t, "5", res.Header.Get("Retry-After"))
	require.NotNil(t, got)
	assert.Equal(t, "/http-bind", got.RequestURI)
	assert.Equal(t, "192.0.2.7:4242", got.RemoteAddr)
	assert.NotNil(t, got.TLS, "as if over TLS (XEP-0124 §19.1)")
	assert.Equal(t, "198.51.100.1", got.Header.Get("X-Forwarded-For"))
}

func TestHandlerTransportAbortAndContext(t *testing.T) {
	abort := &HandlerTransport{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler) // bosh.Handler closing the connection (XEP-0124 §19.1)
	})}
	req, err := http.NewRequest(http.MethodPost, "/http-bind", nil)
	require.NoError(t, err)
	_, err = abort.RoundTrip(req)
	assert.ErrorContains(t, err, "closed the connection")

	held := &HandlerTransport{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // a held request, released by the client's context
	})}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, "/http-bind", nil)
	require.NoError(t, err)
	_, err = held.RoundTrip(req)
	assert.ErrorIs(t, err, context.Canceled)
}

// creation answers a session creation request; later requests are held
// until their context ends (each reported on held), or answered busy.
func creation(busy bool, held chan<- struct{}) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b [512]byte
		n, _ := r.Body.Read(b[:])
		if !strings.Contains(string(b[:n]), "sid=") {
			w.Write([]byte("<body sid='s1' requests='2' hold='1' xmlns='http://jabber.org/protocol/httpbind'/>"))
			return
		}
		if busy {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		held <- struct{}{}
		<-r.Context().Done()
	})
}

func TestOnDemandLeavesNoRequestHeld(t *testing.T) {
	held := make(chan struct{}, 1)
	c := New(Config{URL: "/http-bind", HTTPClient: &http.Client{Transport: &HandlerTransport{Handler: creation(false, held)}}, OnDemand: true})
	defer c.Close()
	require.NoError(t, c.Connect(t.Context(), "example.com"))
	rid := c.RID()
	assert.Zero(t, c.InFlight(), "no request until Next waits")

	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-held
		cancel()
	}()
	_, err := c.Next(ctx, nil)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, rid+1, c.RID(), "one empty request while Next waited")
	assert.Equal(t, 1, c.InFlight(), "held until the session ends")
}

func TestBusyWithoutRetriesIsOverloadError(t *testing.T) {
	c := New(Config{URL: "/http-bind", HTTPClient: &http.Client{Transport: &HandlerTransport{Handler: creation(true, nil)}}, OnDemand: true})
	defer c.Close()
	require.NoError(t, c.Connect(t.Context(), "example.com"))
	_, err := c.Next(t.Context(), nil)
	var over *bosh.OverloadError
	require.True(t, errors.As(err, &over), "HTTP 503 without BusyRetries: %v", err)
	assert.Equal(t, 7*time.Second, over.RetryAfter, "from Retry-After")
}

func TestBusyRetriesResendAfterRetryAfter(t *testing.T) {
	// A request refused with HTTP 503 was not processed: with BusyRetries
	// it is sent again, as it is, after its Retry-After (RFC 9110
	// §10.2.3), as Strophe.js and StanzaJS do.
	synctest.Test(t, func(t *testing.T) {
		var bodies []string
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			bodies = append(bodies, string(b))
			if len(bodies) <= 2 {
				w.Header().Set("Retry-After", "3")
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			w.Write([]byte("<body sid='s1' requests='2' hold='1' xmlns='http://jabber.org/protocol/httpbind'/>"))
		})
		c := New(Config{URL: "/http-bind", HTTPClient: &http.Client{Transport: &HandlerTransport{Handler: h}}, BusyRetries: 2, OnDemand: true})
		defer c.Close()
		start := time.Now()
		require.NoError(t, c.Connect(t.Context(), "example.com"))
		assert.Equal(t, 6*time.Second, time.Since(start), "two Retry-After delays")
		require.Len(t, bodies, 3)
		assert.Equal(t, bodies[0], bodies[2], "the same request, rid and all")
		assert.Equal(t, "s1", c.SID())
	})
}

package prebind_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/bosh"
)

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// browser continues a prebound session the way a browser client does
// after attach(jid, sid, rid): raw BOSH requests with the given sid and
// consecutive rids starting at the returned one.
type browser struct {
	url string
	sid string
	rid uint64
}

// post sends one request with payload and returns the response body.
func (b *browser) post(ctx context.Context, t testing.TB, payload string) string {
	t.Helper()
	body := fmt.Sprintf("<body rid='%d' sid='%s' xmlns='http://jabber.org/protocol/httpbind'>%s</body>", b.rid, b.sid, payload)
	b.rid++
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	require.NotContains(t, string(data), "type='terminate'", "the session ended: %s", data)
	return string(data)
}

// exchange sends msg from the prebound session in a request held until a
// message arrives for it, while reply (another client) answers; it
// returns the bodies of the messages the browser received, reading at
// most a few responses.
func (b *browser) exchange(ctx context.Context, t testing.TB, msg string, reply func()) []string {
	t.Helper()
	first := make(chan string, 1)
	rid := b.rid
	b.rid++
	go func() {
		// The request is held (XEP-0124 §8) until the reply arrives.
		body := fmt.Sprintf("<body rid='%d' sid='%s' xmlns='http://jabber.org/protocol/httpbind'>%s</body>", rid, b.sid, msg)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.url, strings.NewReader(body))
		if err != nil {
			first <- "error: " + err.Error()
			return
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			first <- "error: " + err.Error()
			return
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		first <- string(data)
	}()
	reply()
	var got []string
	select {
	case data := <-first:
		got = messageBodies(t, data)
	case <-ctx.Done():
		t.Fatal("no response to the held request")
	}
	for i := 0; len(got) == 0 && i < 3; i++ {
		got = messageBodies(t, b.post(ctx, t, ""))
	}
	return got
}

// messageBodies returns the <body/> texts of the messages in a response.
func messageBodies(t testing.TB, resp string) []string {
	t.Helper()
	require.NotContains(t, resp, "type='terminate'", "the session ended: %s", resp)
	var r struct {
		Messages []struct {
			Body string `xml:"body"`
		} `xml:"message"`
	}
	require.NoError(t, xml.NewDecoder(bytes.NewReader([]byte(resp))).Decode(&r), resp)
	var out []string
	for _, m := range r.Messages {
		out = append(out, m.Body)
	}
	return out
}

// waitSessions waits, a bounded number of times, for the handler's open
// session count to be n, and returns the last count.
func waitSessions(h *bosh.Handler, n int64) int64 {
	var got int64
	for range 200 {
		if got = h.Stats().Sessions; got == n {
			return got
		}
		time.Sleep(5 * time.Millisecond) // a bounded poll, not a timing rule
	}
	return got
}

// counting is a handler that counts the requests in it and in all.
type counting struct {
	h        http.Handler
	n, calls atomic.Int64
}

func (c *counting) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.n.Add(1)
	c.calls.Add(1)
	defer c.n.Add(-1)
	c.h.ServeHTTP(w, r)
}

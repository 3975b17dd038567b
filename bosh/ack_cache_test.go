package bosh

import (
	"strconv"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUnacknowledgedRepliesKept: a client that acknowledges responses
// (§9.2) and lost the response to one request may go on with its other
// request slot for a long while before it resends the lost one; the
// connection manager keeps every reply not acknowledged (§14.3) — here
// 200 — and answers the resend from its buffer instead of item-not-found.
// (It used to keep 32; internal/faulttest found the loss.)
func TestUnacknowledgedRepliesKept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{NoPolling: true})
		x.up.echo = true
		s := x.create(1000, "ack='1'")
		first := s.body(1, "ack='1000'", "<m xmlns='x'>lost</m>")
		r := x.send(first)
		require.Equal(t, []string{"<m xmlns='x'>lost</m>"}, r.Children, r.Raw)
		// The client never saw that response: its ack stays at 1000.
		for n := uint64(2); n <= 201; n++ {
			msg := "<m xmlns='x'>" + strconv.FormatUint(n, 10) + "</m>"
			r := s.send(n, "ack='1000'", msg)
			require.Equal(t, []string{msg}, r.Children, r.Raw)
		}
		again := x.send(first)
		assert.Equal(t, []string{"<m xmlns='x'>lost</m>"}, again.Children, "§14.3: the buffered copy: %s", again.Raw)
		assert.Equal(t, int64(1), x.h.Stats().Sessions)
		// Once acknowledged, the buffer is released: a resend of rid 1001
		// now gets item-not-found (§14.3).
		s.send(202, "ack='1201'", "<m xmlns='x'/>")
		r = x.send(first)
		assert.True(t, r.IsTerm(string(ItemNotFound)), r.Raw)
	})
}

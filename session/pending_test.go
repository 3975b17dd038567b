package session

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A parked request (Submit, then Park) is answered through ready, as
// Handle's wait would be: at 'wait' (§8) or when payloads come.
func TestParkedRequestIsReady(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, defaults)
		p, reply := f.s.Submit(context.Background(), &Request{RID: 101})
		require.Nil(t, reply)
		require.True(t, p.Held() && p.CanPark())
		ready := 0
		require.True(t, p.Park(func() { ready++ }))
		assert.Nil(t, p.Reply(), "no reply yet")
		require.True(t, f.s.Deliver("", [][]byte{[]byte("<a/>")}, nil))
		assert.Equal(t, 1, ready, "ready, once")
		require.NotNil(t, p.Reply())
		assert.Equal(t, [][]byte{[]byte("<a/>")}, p.Reply().Payloads)

		p, _ = f.s.Submit(context.Background(), &Request{RID: 102})
		require.True(t, p.Park(func() { ready++ }))
		f.clk.Advance(60 * time.Second)
		assert.Equal(t, 2, ready, "at wait")
		assert.Empty(t, p.Reply().Payloads)
	})
}

// A parked request whose reply is already there is not parked; Park
// tells, and the caller takes Reply.
func TestParkAfterReply(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, defaults)
		p, _ := f.s.Submit(context.Background(), &Request{RID: 101})
		require.True(t, f.s.Deliver("", [][]byte{[]byte("<a/>")}, nil))
		assert.False(t, p.Park(func() { t.Fatal("ready after the reply") }))
		assert.Len(t, p.Reply().Payloads, 1)
	})
}

// A parked request whose client went away (Abandon) keeps its place and
// gets no payloads; they go to the next request, and the abandoned rid's
// empty reply is kept for a retransmission (§14.3), which cannot park.
func TestAbandonedRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, defaults)
		p, _ := f.s.Submit(context.Background(), &Request{RID: 101})
		require.True(t, p.Park(func() { t.Fatal("ready after Abandon") }))
		p.Abandon()
		require.True(t, f.s.Deliver("", [][]byte{[]byte("<a/>")}, nil))
		next := f.handle(102)
		r := <-next
		assert.Equal(t, [][]byte{[]byte("<a/>")}, r.Payloads, "the payload went to the next request")

		again, reply := f.s.Submit(context.Background(), &Request{RID: 101})
		assert.False(t, again.Held())
		require.NotNil(t, reply)
		assert.Empty(t, reply.Payloads, "the abandoned rid's reply is empty")
		assert.False(t, f.s.Ended())
	})
}

// A retransmission of a held rid waits for the same reply as the request
// and cannot park (only the request that placed the rid can).
func TestRetransmissionCannotPark(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, defaults)
		p, _ := f.s.Submit(context.Background(), &Request{RID: 101})
		require.True(t, p.Park(func() {}))
		again, reply := f.s.Submit(context.Background(), &Request{RID: 101})
		require.Nil(t, reply)
		require.True(t, again.Held())
		assert.False(t, again.CanPark())
		assert.Panics(t, func() { again.Park(func() {}) })
		got := make(chan *Reply, 1)
		go func() { got <- again.Wait(context.Background()) }()
		synctest.Wait()
		require.True(t, f.s.Deliver("", [][]byte{[]byte("<a/>")}, nil))
		r := <-got
		assert.Same(t, p.Reply(), r, "the same reply")
	})
}

package session

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/internal/clock"
)

// recStream records what a session forwards.
type recStream struct {
	mu     sync.Mutex
	sent   []string
	closed []Closing
}

func (r *recStream) Send(_ context.Context, req *Payload) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range req.Payloads {
		r.sent = append(r.sent, string(p))
	}
	return nil
}

func (r *recStream) Close(c Closing) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = append(r.closed, c)
}

// encode is a readable stand-in for the bosh encoder.
func encode(r *Reply) []byte {
	return fmt.Appendf(nil, "type=%s cond=%s ack=%d n=%d", r.Type, r.Condition, r.Ack, len(r.Payloads))
}

type fixture struct {
	s     *Session
	clk   *clock.Fake
	st    *recStream
	ended []Condition
}

func newFixture(t *testing.T, p Params) *fixture {
	f := &fixture{clk: clock.NewFake(time.Unix(1e9, 0)), st: &recStream{}}
	cfg := Config{Clock: f.clk, Encode: encode, Ended: func(_ *Session, c Condition) { f.ended = append(f.ended, c) }}
	f.s = New("sid", 100, p, "", nil, cfg)
	r := f.s.Start("", f.st, nil)
	require.Equal(t, uint64(100), r.Ack, "§9.1: the creation response acks the creation rid")
	return f
}

var defaults = Params{Wait: 60 * time.Second, Hold: 1, Requests: 2, Inactivity: 30 * time.Second, Polling: 2 * time.Second}

// handle runs a request in its own goroutine.
func (f *fixture) handle(rid uint64, payloads ...string) chan *Reply {
	ch := make(chan *Reply, 1)
	req := &Request{RID: rid}
	for _, p := range payloads {
		req.Payloads = append(req.Payloads, []byte(p))
	}
	go func() { ch <- f.s.Handle(context.Background(), req) }()
	return ch
}

func TestHeldRequestAnsweredAtWaitOnFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, defaults)
		c := f.handle(101)
		synctest.Wait()
		f.clk.Advance(60*time.Second - time.Nanosecond)
		synctest.Wait()
		require.Empty(t, c, "not answered before wait")
		f.clk.Advance(time.Nanosecond)
		r := <-c
		assert.Equal(t, "", r.Type)
		assert.Empty(t, r.Payloads, "empty body at wait")
		assert.Zero(t, r.Ack, "ack omitted when it equals the rid answered")
	})
}

func TestInactivityCountsFromLastResponse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, defaults)
		f.clk.Advance(30*time.Second - time.Nanosecond)
		assert.False(t, f.s.Ended())
		f.clk.Advance(time.Nanosecond)
		assert.True(t, f.s.Ended(), "ends after inactivity with nothing held")
		assert.Equal(t, []Condition{Inactive}, f.ended)
		require.Len(t, f.st.closed, 1)
		assert.Equal(t, ErrInactive, f.st.closed[0].Err)
		r := <-f.handle(101)
		assert.Equal(t, ItemNotFound, r.Condition, "as if the session never existed")
	})
}

func TestDeliverWakesOldestHeldAndBatches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, defaults)
		c := f.handle(101)
		synctest.Wait()
		require.True(t, f.s.Deliver("", [][]byte{[]byte("<a/>"), []byte("<b/>")}, nil))
		r := <-c
		assert.Equal(t, [][]byte{[]byte("<a/>"), []byte("<b/>")}, r.Payloads, "batched, in order")
		f.s.End("system-shutdown", nil)
		assert.False(t, f.s.Deliver("", [][]byte{[]byte("<c/>")}, nil), "an ended session refuses payloads")
	})
}

func TestUndeliveredPayloadsGoBackOnEnd(t *testing.T) {
	f := newFixture(t, defaults)
	require.True(t, f.s.Deliver("", [][]byte{[]byte("<a/>")}, nil))
	f.s.End("system-shutdown", nil)
	require.Len(t, f.st.closed, 1)
	assert.Equal(t, [][]byte{[]byte("<a/>")}, f.st.closed[0].Undelivered)
	assert.Equal(t, SystemShutdown, f.st.closed[0].Err)
}

func TestQueueLimitEndsSession(t *testing.T) {
	p := defaults
	p.MaxQueue = 2
	f := newFixture(t, p)
	f.s.Deliver("", [][]byte{[]byte("<a/>"), []byte("<b/>")}, nil)
	assert.False(t, f.s.Ended())
	f.s.Deliver("", [][]byte{[]byte("<c/>")}, nil)
	assert.True(t, f.s.Ended())
	assert.Equal(t, []Condition{PolicyViolation}, f.ended)
	require.Len(t, f.st.closed, 1)
	assert.Len(t, f.st.closed[0].Undelivered, 3, "nothing is dropped: the upstream gets them back")
}

func TestKeyCompareIsCaseInsensitive(t *testing.T) {
	assert.True(t, keyEqual("abcdef", "ABCDEF"))
	assert.False(t, keyEqual("abcdef", "abcdee"))
	assert.False(t, keyEqual("abc", "abcd"))
	assert.Equal(t, "a9993e364706816aba3e25717850c26c9cd0d89d", sha1Hex("abc"))
}

func TestPolls(t *testing.T) {
	assert.True(t, Params{Hold: 0, Wait: time.Second}.Polls())
	assert.True(t, Params{Hold: 1, Wait: 0}.Polls())
	assert.False(t, Params{Hold: 1, Wait: time.Second}.Polls())
}

func TestRegistryConcurrent(t *testing.T) {
	var reg Registry[*Session]
	cfg := Config{Encode: encode}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				s := New("s"+strconv.Itoa(g)+"-"+strconv.Itoa(i), 1, defaults, "", nil, cfg)
				require.True(t, reg.Add(s))
				got, _ := reg.Get(s.SID())
				assert.Same(t, s, got)
				if i%2 == 0 {
					reg.Remove(s)
				}
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 800, reg.Len())
	assert.Len(t, reg.All(), 800)
	dup := New("s0-1", 1, defaults, "", nil, cfg)
	assert.False(t, reg.Add(dup), "a taken sid is refused")
	got, _ := reg.Get("s0-1")
	assert.NotSame(t, dup, got)
	_, ok := reg.Get("nope")
	assert.False(t, ok)
}

// A session that ends while its upstream is still opening (the queue
// overflows during Open) closes the stream Start attaches, handing back
// what was queued, instead of leaking it.
func TestStartAfterEndClosesStream(t *testing.T) {
	clk := clock.NewFake(time.Unix(1e9, 0))
	p := defaults
	p.MaxQueue = 1
	s := New("sid", 100, p, "", nil, Config{Clock: clk, Encode: encode})
	s.Deliver("", [][]byte{[]byte("<a/>"), []byte("<b/>")}, nil)
	st := &recStream{}
	r := s.Start("", st, nil)
	assert.Equal(t, TypeTerminate, r.Type)
	assert.Equal(t, PolicyViolation, r.Condition)
	require.Len(t, st.closed, 1, "the stream is closed")
	assert.Equal(t, PolicyViolation, st.closed[0].Err)
	assert.Len(t, st.closed[0].Undelivered, 2)
}

// TestRequestAfterEnd: a request that comes after the session ended gets
// item-not-found (§17.2), or system-shutdown when the session ended with
// it, as an unknown sid does while the handler shuts down.
func TestRequestAfterEnd(t *testing.T) {
	for _, tc := range []struct {
		end, want Condition
	}{
		{SystemShutdown, SystemShutdown},
		{PolicyViolation, ItemNotFound},
		{"", ItemNotFound},
	} {
		t.Run(string(tc.end), func(t *testing.T) {
			f := newFixture(t, defaults)
			f.s.End(tc.end, nil)
			r := f.s.Handle(context.Background(), &Request{RID: 101})
			assert.Equal(t, TypeTerminate, r.Type)
			assert.Equal(t, tc.want, r.Condition)
		})
	}
}

package session

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/httpbind/httpbind/internal/clock"
)

// A model-based test of the session (XEP-0124 §§8–14): a client and an
// upstream take random turns, the client's connections break and come
// back, copies of old requests arrive late, the clock moves; after every
// step an oracle checks what the session promises:
//
//   - every payload the client sent is forwarded once, in rid order (§14.2);
//   - every payload the upstream delivered reaches the client once, in
//     order, in the replies it reads in rid order (§8, §14.2, §14.3);
//   - the session never ends: the client broke no rule.
//
// The client behaves as XEP-0124 asks: at most 'requests' rids
// unanswered (§11), responses processed in rid order (§14.2), and a
// request whose connection broke sent again byte for byte (§14.3).

// decider is the source of the model's choices.
type decider interface {
	intn(n int) int // a choice in [0, n)
	done() bool     // no more choices: stop the random steps
}

type randDecider struct {
	r     *rand.Rand
	steps int
}

func (d *randDecider) intn(n int) int { d.steps--; return d.r.IntN(n) }
func (d *randDecider) done() bool     { return d.steps <= 0 }

// byteDecider takes its choices from fuzz input.
type byteDecider struct {
	b []byte
	i int
}

func (d *byteDecider) intn(n int) int {
	if d.i >= len(d.b) {
		return 0
	}
	v := int(d.b[d.i])
	d.i++
	return v % n
}
func (d *byteDecider) done() bool { return d.i >= len(d.b) }

// attempt is one connection carrying a request.
type attempt struct {
	cancel context.CancelFunc
	out    chan *Reply // Handle's result
	cut    bool        // the client gave this connection up
}

// modelReq is one rid as the client knows it.
type modelReq struct {
	req      *Request
	attempts []*attempt
	reply    *Reply // the reply the client read, or nil
}

func (r *modelReq) live() int {
	n := 0
	for _, a := range r.attempts {
		if !a.cut {
			n++
		}
	}
	return n
}

type model struct {
	t     *testing.T
	d     decider
	p     Params
	clk   *clock.Fake
	st    *recStream
	s     *Session
	ended []Condition
	log   []string // the steps, for a failure report

	start     uint64
	next      uint64 // the next rid to send
	reqs      map[uint64]*modelReq
	processed uint64 // the highest rid the client processed, in order
	seq       int    // names payloads
	delivered []string
	received  []string
}

func newModel(t *testing.T, d decider, hold int, acks bool) *model {
	m := &model{
		t: t, d: d, clk: clock.NewFake(time.Unix(1e9, 0)), st: &recStream{},
		p: Params{
			Wait: 10 * time.Second, Hold: hold, Requests: hold + 1,
			Inactivity: 60 * time.Second, ClientAcks: acks,
		},
		start: 1000, next: 1001, processed: 1000, reqs: make(map[uint64]*modelReq),
	}
	cfg := Config{Clock: m.clk, Encode: encode, GapTimeout: 3 * time.Second,
		Ended: func(_ *Session, c Condition) { m.ended = append(m.ended, c) }}
	m.s = New("sid", m.start, m.p, "", nil, cfg)
	m.s.Start("", m.st, nil)
	return m
}

func (m *model) logf(format string, args ...any) { m.log = append(m.log, fmt.Sprintf(format, args...)) }

// unanswered counts the rids sent whose reply the client has not read.
func (m *model) unanswered() []uint64 {
	var out []uint64
	for rid := m.processed + 1; rid < m.next; rid++ {
		if m.reqs[rid].reply == nil {
			out = append(out, rid)
		}
	}
	return out
}

// send makes a new request; with a payload when data is set.
func (m *model) send(data bool) uint64 {
	rid := m.next
	m.next++
	req := &Request{RID: rid}
	if data {
		m.seq++
		req.Payloads = [][]byte{[]byte("c" + strconv.Itoa(m.seq))}
	}
	if m.p.ClientAcks && m.processed < rid-1 {
		req.Ack = m.processed // §9.2: omitted when every response was read
	}
	m.reqs[rid] = &modelReq{req: req}
	return rid
}

// try sends rid on a new connection; a gone connection when dead is set
// (a copy the network delivers after its client closed it).
func (m *model) try(rid uint64, dead bool) {
	r := m.reqs[rid]
	ctx, cancel := context.WithCancel(context.Background())
	a := &attempt{cancel: cancel, out: make(chan *Reply, 1), cut: dead}
	if dead {
		cancel()
	} else {
		r.attempts = append(r.attempts, a)
	}
	req := r.req
	go func() { a.out <- m.s.Handle(ctx, req) }()
}

// step takes one random action.
func (m *model) step() {
	open := m.unanswered()
	switch m.d.intn(8) {
	case 0, 1: // a new request
		if len(open) < m.p.Requests {
			rid := m.send(m.d.intn(2) == 0)
			m.logf("send %d", rid)
			m.try(rid, false)
		}
	case 2: // two new requests, the higher arriving first (§14.2)
		if len(open)+2 <= m.p.Requests {
			a, b := m.send(m.d.intn(2) == 0), m.send(true)
			m.logf("send %d then %d", b, a)
			m.try(b, false)
			m.try(a, false)
		}
	case 3: // a connection breaks
		var live []*attempt
		var rids []uint64
		for _, rid := range open {
			for _, a := range m.reqs[rid].attempts {
				if !a.cut {
					live, rids = append(live, a), append(rids, rid)
				}
			}
		}
		if len(live) > 0 {
			i := m.d.intn(len(live))
			m.logf("cut %d", rids[i])
			live[i].cut = true
			live[i].cancel()
		}
	case 4: // a resend, beside a live connection or not
		if len(open) > 0 {
			rid := open[m.d.intn(len(open))]
			if m.reqs[rid].live() < 2 {
				m.logf("resend %d", rid)
				m.try(rid, false)
			}
		}
	case 5: // a late copy of any request sent so far
		if m.next > m.start+1 {
			rid := m.start + 1 + uint64(m.d.intn(int(m.next-m.start-1)))
			m.logf("late copy %d", rid)
			m.try(rid, true)
		}
	case 6: // the upstream delivers
		m.seq++
		p := "d" + strconv.Itoa(m.seq)
		m.logf("deliver %s", p)
		if !m.s.Deliver("", [][]byte{[]byte(p)}, nil) {
			m.t.Fatalf("Deliver refused: the session ended\n%s", m.history())
		}
		m.delivered = append(m.delivered, p)
	case 7: // time passes
		m.resendBroken()
		d := time.Duration(m.d.intn(int(m.p.Wait/time.Second)/2+1)) * time.Second
		m.logf("advance %v", d)
		m.clk.Advance(d)
	}
	m.settle()
}

// resendBroken sends again every unanswered request with no live
// connection, as a client does at once after a network error (§14.3).
func (m *model) resendBroken() {
	for _, rid := range m.unanswered() {
		if m.reqs[rid].live() == 0 {
			m.logf("resend %d", rid)
			m.try(rid, false)
		}
	}
}

// settle lets every goroutine run, reads the replies that arrived on live
// connections, processes them in rid order, and keeps a request at the
// connection manager (§8).
func (m *model) settle() {
	for range 10 {
		synctest.Wait()
		m.read()
		if len(m.unanswered()) > 0 {
			return
		}
		rid := m.send(false)
		m.logf("poll %d", rid)
		m.try(rid, false)
	}
}

func (m *model) read() {
	for _, rid := range m.unanswered() {
		r := m.reqs[rid]
		for _, a := range r.attempts {
			select {
			case rep := <-a.out:
				a.out <- rep // keep it for a later look
				if a.cut || rep == nil || r.reply != nil {
					continue // a broken connection: the client never reads it
				}
				if rep.Type != "" {
					m.t.Fatalf("rid %d answered type=%q condition=%q\n%s", rid, rep.Type, rep.Condition, m.history())
				}
				r.reply = rep
			default:
			}
		}
	}
	for m.next > m.processed+1 && m.reqs[m.processed+1].reply != nil {
		m.processed++
		for _, p := range m.reqs[m.processed].reply.Payloads {
			m.received = append(m.received, string(p))
		}
	}
}

// check is the oracle.
func (m *model) check() {
	if len(m.ended) > 0 || m.s.Ended() {
		m.t.Fatalf("the session ended (%v)\n%s", m.ended, m.history())
	}
	sent := m.sentPayloads()
	m.st.mu.Lock()
	forwarded := slices.Clone(m.st.sent)
	m.st.mu.Unlock()
	if len(forwarded) > len(sent) || !slices.Equal(forwarded, sent[:len(forwarded)]) {
		m.t.Fatalf("forwarded %v; the client sent %v in rid order\n%s", forwarded, sent, m.history())
	}
	if len(m.received) > len(m.delivered) || !slices.Equal(m.received, m.delivered[:len(m.received)]) {
		m.t.Fatalf("received %v; delivered %v\n%s", m.received, m.delivered, m.history())
	}
	m.s.mu.Lock()
	waiting := m.s.hasDataLocked() && m.s.liveHeldLocked() > 0
	m.s.mu.Unlock()
	if waiting {
		// §8: queued payloads go to a live held request at once.
		m.t.Fatalf("payloads wait while a live request is held\n%s", m.history())
	}
}

func (m *model) sentPayloads() []string {
	var out []string
	for rid := m.start + 1; rid < m.next; rid++ {
		for _, p := range m.reqs[rid].req.Payloads {
			out = append(out, string(p))
		}
	}
	return out
}

// finish stops the faults and lets the client catch up: everything sent
// is forwarded and everything delivered is received.
func (m *model) finish() {
	for range 50 {
		m.resendBroken()
		m.settle()
		m.check()
		m.st.mu.Lock()
		forwarded := len(m.st.sent)
		m.st.mu.Unlock()
		if len(m.received) == len(m.delivered) && forwarded == len(m.sentPayloads()) {
			m.t.Logf("%d steps: %d rids, %d payloads forwarded, %d delivered, %d cuts, %d late copies",
				len(m.log), m.next-m.start-1, forwarded, len(m.delivered), m.count("cut "), m.count("late copy "))
			return
		}
		m.logf("advance %v", m.p.Wait)
		m.clk.Advance(m.p.Wait) // the held requests are answered
		m.settle()
		m.check()
	}
	m.t.Fatalf("no progress: received %d of %d delivered\n%s", len(m.received), len(m.delivered), m.history())
}

// close ends the session and lets every request goroutine return.
func (m *model) close() {
	m.s.End(ItemNotFound, nil)
	for _, r := range m.reqs {
		for _, a := range r.attempts {
			a.cancel()
		}
	}
	synctest.Wait()
}

// count counts the steps whose log line starts with prefix.
func (m *model) count(prefix string) int {
	n := 0
	for _, l := range m.log {
		if len(l) >= len(prefix) && l[:len(prefix)] == prefix {
			n++
		}
	}
	return n
}

func (m *model) history() string {
	n := max(len(m.log)-60, 0)
	return fmt.Sprintf("hold=%d acks=%v, last %d of %d steps:\n  %s", m.p.Hold, m.p.ClientAcks, len(m.log)-n, len(m.log), joinLines(m.log[n:]))
}

func joinLines(s []string) string {
	out := ""
	for i, l := range s {
		if i > 0 {
			out += "\n  "
		}
		out += l
	}
	return out
}

// runModel runs the model until d has no more choices, then lets it
// finish.
func runModel(t *testing.T, d decider, hold int, acks bool) {
	synctest.Test(t, func(t *testing.T) {
		m := newModel(t, d, hold, acks)
		defer m.close()
		m.settle()
		for !m.d.done() {
			m.step()
			m.check()
		}
		m.finish()
	})
}

// TestSessionModel runs the model for a fixed budget of seeds and steps.
func TestSessionModel(t *testing.T) {
	seeds, steps := 300, 300
	if testing.Short() {
		seeds = 50
	}
	for seed := range uint64(seeds) {
		hold, acks := 1+int(seed%2), seed%4 >= 2
		ok := t.Run(fmt.Sprintf("seed=%d/hold=%d/acks=%v", seed, hold, acks), func(t *testing.T) {
			runModel(t, &randDecider{r: rand.New(rand.NewPCG(seed, 0x5eed)), steps: steps}, hold, acks)
		})
		if !ok {
			return // one failing history is enough to read
		}
	}
}

// FuzzSessionModel runs the model on the fuzzer's choices.
func FuzzSessionModel(f *testing.F) {
	f.Add([]byte{0, 3, 4, 6, 7, 1, 5, 6, 3, 7}, uint8(1), false)
	f.Add([]byte{2, 0, 1, 3, 3, 4, 6, 5, 7, 7, 6, 0}, uint8(2), true)
	f.Add([]byte{6, 6, 0, 0, 3, 0, 4, 0, 5, 3, 7, 2, 1}, uint8(1), true)
	f.Fuzz(func(t *testing.T, choices []byte, hold uint8, acks bool) {
		if len(choices) > 4096 {
			return
		}
		runModel(t, &byteDecider{b: choices}, 1+int(hold%2), acks)
	})
}

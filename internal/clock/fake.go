package clock

import (
	"sort"
	"sync"
	"time"
)

// Fake is a Clock whose time moves only when Advance is called. Timer
// functions run synchronously inside Advance, in deadline order, so a test
// knows that every rule due by the new time has been applied when Advance
// returns. The zero Fake is not usable; call NewFake.
type Fake struct {
	mu     sync.Mutex // guards now, timers, seq
	now    time.Time
	timers []*fakeTimer
	seq    int
}

// NewFake returns a fake clock set to start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

type fakeTimer struct {
	c    *Fake
	f    func()
	when time.Time
	seq  int  // breaks ties between equal deadlines: first set, first run
	live bool // guarded by c.mu
}

// Now returns the fake time.
func (c *Fake) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc schedules f to run when the fake time reaches now+d.
func (c *Fake) AfterFunc(d time.Duration, f func()) Timer {
	t := &fakeTimer{c: c, f: f}
	t.Reset(d)
	return t
}

// Advance moves the time forward by d and runs every timer that falls due,
// each at its own deadline, in order.
func (c *Fake) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		t := c.next(end)
		if t == nil {
			c.now = end
			c.mu.Unlock()
			return
		}
		t.live = false
		if t.when.After(c.now) {
			c.now = t.when
		}
		c.mu.Unlock()
		t.f()
	}
}

// Pending returns how many timers are waiting to fire.
func (c *Fake) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if t.live {
			n++
		}
	}
	return n
}

// next returns the earliest live timer due by end, dropping dead ones.
func (c *Fake) next(end time.Time) *fakeTimer {
	live := c.timers[:0]
	for _, t := range c.timers {
		if t.live {
			live = append(live, t)
		}
	}
	c.timers = live
	sort.Slice(live, func(i, j int) bool {
		if live[i].when.Equal(live[j].when) {
			return live[i].seq < live[j].seq
		}
		return live[i].when.Before(live[j].when)
	})
	if len(live) == 0 || live[0].when.After(end) {
		return nil
	}
	return live[0]
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.live
	t.live = false
	return was
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	was := t.live
	if !was {
		c.timers = append(c.timers, t)
	}
	c.seq++
	t.live, t.when, t.seq = true, c.now.Add(d), c.seq
	return was
}

package clock

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFakeRunsTimersInDeadlineOrder(t *testing.T) {
	start := time.Unix(1000, 0)
	c := NewFake(start)
	var got []string
	var at []time.Duration
	record := func(name string) func() {
		return func() { got = append(got, name); at = append(at, c.Now().Sub(start)) }
	}
	c.AfterFunc(3*time.Second, record("c"))
	c.AfterFunc(1*time.Second, record("a"))
	c.AfterFunc(2*time.Second, record("b"))
	c.Advance(2 * time.Second)
	assert.Equal(t, []string{"a", "b"}, got)
	assert.Equal(t, []time.Duration{time.Second, 2 * time.Second}, at)
	c.Advance(time.Second)
	assert.Equal(t, []string{"a", "b", "c"}, got)
	assert.Equal(t, 3*time.Second, c.Now().Sub(start))
}

func TestFakeStopAndReset(t *testing.T) {
	c := NewFake(time.Unix(0, 0))
	fired := 0
	tm := c.AfterFunc(time.Second, func() { fired++ })
	require.True(t, tm.Stop())
	assert.False(t, tm.Stop())
	c.Advance(2 * time.Second)
	assert.Zero(t, fired)
	assert.False(t, tm.Reset(time.Second))
	assert.Equal(t, 1, c.Pending())
	c.Advance(999 * time.Millisecond)
	assert.Zero(t, fired)
	c.Advance(time.Millisecond)
	assert.Equal(t, 1, fired)
	assert.Zero(t, c.Pending())
}

func TestFakeTimerSetInsideCallbackRunsInSameAdvance(t *testing.T) {
	c := NewFake(time.Unix(0, 0))
	n := 0
	var f func()
	f = func() {
		n++
		if n < 3 {
			c.AfterFunc(time.Second, f)
		}
	}
	c.AfterFunc(time.Second, f)
	c.Advance(10 * time.Second)
	assert.Equal(t, 3, n)
}

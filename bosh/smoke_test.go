package bosh

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSmokeEchoRoundTrip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{})
		x.up.echo = true
		s := x.create(1000, "")
		assert.Equal(t, "1000", s.created.Attr("ack"))
		held := s.post(1, "", "")
		synctest.Wait()
		assert.False(t, held.Done())
		second := s.post(2, "", "<message xmlns='jabber:client'><body>hi</body></message>")
		// REQ 1 takes the echoed message (oldest held, §8); REQ 2 is held.
		h := held.wait()
		require.Equal(t, []string{"<message xmlns='jabber:client'><body>hi</body></message>"}, h.Children)
		synctest.Wait()
		assert.False(t, second.Done())
	})
}

func TestSmokeWaitExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{})
		s := x.create(1000, "wait='5'")
		start := time.Now()
		c := s.post(1, "", "")
		synctest.Wait()
		require.False(t, c.Done())
		time.Sleep(5 * time.Second)
		synctest.Wait()
		r := c.wait()
		assert.True(t, r.IsEmpty(), r.Raw)
		assert.Equal(t, 5*time.Second, c.at.Sub(start))
	})
}

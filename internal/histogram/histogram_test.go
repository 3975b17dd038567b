package histogram

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHistogram(t *testing.T) {
	var h Histogram
	for _, d := range []time.Duration{0, 100 * time.Microsecond, 101 * time.Microsecond, time.Millisecond, time.Hour} {
		h.Observe(d)
	}
	s := h.Snapshot()
	require.Len(t, s.Counts, len(Bounds))
	assert.Equal(t, uint64(5), s.Count)
	assert.Equal(t, 100*time.Microsecond+101*time.Microsecond+time.Millisecond+time.Hour, s.Sum)
	assert.Equal(t, uint64(2), s.Counts[0], "0 and 100µs: the bound is inclusive")
	assert.Equal(t, uint64(3), s.Counts[1], "101µs in (100µs, 200µs]")
	assert.Equal(t, uint64(4), s.Counts[4], "1ms in (800µs, 1.6ms], cumulative")
	assert.Equal(t, uint64(4), s.Counts[len(Bounds)-1], "an hour is past the last bound")
}

func TestBounds(t *testing.T) {
	assert.Equal(t, 100*time.Microsecond, Bounds[0])
	assert.Equal(t, 100*time.Microsecond<<20, Bounds[len(Bounds)-1])
}

func BenchmarkObserve(b *testing.B) {
	var h Histogram
	b.ReportAllocs()
	for i := range b.N {
		h.Observe(time.Duration(i))
	}
}

package loadstat

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestPercentile(t *testing.T) {
	s := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	assert.EqualValues(t, 5, Percentile(s, 50))
	assert.EqualValues(t, 9, Percentile(s, 90))
	assert.EqualValues(t, 10, Percentile(s, 99))
	assert.EqualValues(t, 10, Percentile(s, 100))
	assert.EqualValues(t, 0, Percentile(nil, 50))
	for _, tc := range []struct {
		in   []int64
		p    float64
		want time.Duration
	}{
		{nil, 50, 0},
		{[]int64{5}, 99, 5},
		{[]int64{1, 2, 3, 4}, 50, 2},
		{[]int64{1, 2, 3, 4}, 100, 4},
		{[]int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 90, 9},
	} {
		assert.Equal(t, tc.want, Percentile(tc.in, tc.p), "%v p%v", tc.in, tc.p)
	}
}

func TestLatencyOf(t *testing.T) {
	ms := int64(time.Millisecond)
	got := LatencyOf([]int64{1 * ms, 2 * ms, 3 * ms, 4 * ms, 5 * ms, 6 * ms, 7 * ms, 8 * ms, 9 * ms, 10 * ms})
	assert.Equal(t, Latency{LatencyP50Ms: 5, LatencyP90Ms: 9, LatencyP99Ms: 10, LatencyMaxMs: 10}, got)
}

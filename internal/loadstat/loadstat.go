// Package loadstat holds what the load tools internal/cmd/boshload and
// internal/cmd/pollfloor compute alike: delivery latency percentiles.
package loadstat

import "time"

// Latency is a delivery latency distribution in milliseconds, with the
// JSON names both tools print.
type Latency struct {
	LatencyP50Ms float64 `json:"latency_p50_ms"`
	LatencyP90Ms float64 `json:"latency_p90_ms"`
	LatencyP99Ms float64 `json:"latency_p99_ms"`
	LatencyMaxMs float64 `json:"latency_max_ms"`
}

// LatencyOf returns the distribution of sorted samples in nanoseconds.
func LatencyOf(sorted []int64) Latency {
	ms := func(p float64) float64 { return float64(Percentile(sorted, p)) / float64(time.Millisecond) }
	return Latency{LatencyP50Ms: ms(50), LatencyP90Ms: ms(90), LatencyP99Ms: ms(99), LatencyMaxMs: ms(100)}
}

// Percentile returns the p-th percentile (0 < p <= 100) of sorted, by the
// nearest-rank method, or 0 for no samples.
func Percentile(sorted []int64, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(float64(len(sorted))*p/100+0.999999999) - 1
	return time.Duration(sorted[min(max(rank, 0), len(sorted)-1)])
}

//go:build race

package faulttest_test

// raceDetector is set when the tests run under the race detector, which
// slows a request tenfold: a load that overruns a rate limit at full speed
// does not then.
const raceDetector = true

//go:build !race

package faulttest_test

const raceDetector = false

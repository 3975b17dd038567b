// Package clock is the time source of the session layer: the real clock in
// production and a fake one that tests advance by hand, so that every timing
// rule of XEP-0124 (wait, inactivity, pause, polling) is tested without sleeping.
//
// It sits at the bottom of the layers and imports only the standard library.
package clock

import "time"

// A Clock tells the time and runs functions after a delay.
// Implementations are safe for concurrent use.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has elapsed, like
	// time.AfterFunc. A Timer's function can run after Stop returned false,
	// so f must re-check the state it acts on.
	AfterFunc(d time.Duration, f func()) Timer
}

// A Timer is a pending call made by AfterFunc.
type Timer interface {
	// Stop prevents the call; it reports whether the call was still pending.
	Stop() bool
	// Reset makes the call due d from now; it reports whether it was pending.
	Reset(d time.Duration) bool
}

// Real is the system clock.
var Real Clock = realClock{}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

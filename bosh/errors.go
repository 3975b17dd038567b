package bosh

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Condition is a terminal binding condition (XEP-0124 §17.2). A Condition is
// an error, so that an upstream can end a session with one directly.
type Condition string

// The terminal binding conditions of XEP-0124 §17.2, Table 3.
const (
	BadRequest             Condition = "bad-request"
	HostGone               Condition = "host-gone"
	HostUnknown            Condition = "host-unknown"
	ImproperAddressing     Condition = "improper-addressing"
	InternalServerError    Condition = "internal-server-error"
	ItemNotFound           Condition = "item-not-found"
	OtherRequest           Condition = "other-request"
	PolicyViolation        Condition = "policy-violation"
	RemoteConnectionFailed Condition = "remote-connection-failed"
	RemoteStreamError      Condition = "remote-stream-error"
	SeeOtherURI            Condition = "see-other-uri"
	SystemShutdown         Condition = "system-shutdown"
	UndefinedCondition     Condition = "undefined-condition"
)

func (c Condition) Error() string { return "bosh: " + string(c) }

// LegacyStatus returns the HTTP status that replaces the condition for a
// legacy client, one that sent no 'ver' (§17.1 Table 2, §17.2): 400, 403 or
// 404, or 200 for conditions that have no legacy code.
func (c Condition) LegacyStatus() int {
	switch c {
	case BadRequest:
		return http.StatusBadRequest
	case PolicyViolation:
		return http.StatusForbidden
	case ItemNotFound:
		return http.StatusNotFound
	}
	return http.StatusOK
}

// Error is a failure the client sees as <body type='terminate'
// condition='…'/> (§17.2).
type Error struct {
	Condition Condition
	// Children are elements sent inside the terminate body, as raw XML:
	// the <uri/> of see-other-uri, the <stream:error/> of
	// remote-stream-error (XEP-0206 §6), application details of
	// undefined-condition. They must be well-formed and use only prefixes
	// declared on themselves or with Sink.SetAttrs.
	Children [][]byte
	// Err is the cause, for logs; it is never sent to the client.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Condition.Error() + ": " + e.Err.Error()
	}
	return e.Condition.Error()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is e's Condition, so that
// errors.Is(err, bosh.ItemNotFound) works.
func (e *Error) Is(target error) bool {
	c, ok := target.(Condition)
	return ok && c == e.Condition
}

// newError returns an *Error with a condition and a cause.
func newError(c Condition, cause error) *Error { return &Error{Condition: c, Err: cause} }

// ConditionOf returns the condition that err carries: the Condition of an
// *Error or a Condition in its chain, or InternalServerError for any other
// non-nil error. It returns "" for nil.
func ConditionOf(err error) Condition {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Condition
	}
	var c Condition
	if errors.As(err, &c) {
		return c
	}
	return InternalServerError
}

// childrenOf returns the terminate body's children that err carries.
func childrenOf(err error) [][]byte {
	var e *Error
	if errors.As(err, &e) {
		return e.Children
	}
	return nil
}

// ErrInactive is the Closing.Err of a session that timed out (§10).
var ErrInactive = errors.New("bosh: session inactive")

// ErrOverloaded matches every *OverloadError with errors.Is.
var ErrOverloaded = errors.New("bosh: overloaded")

// OverloadError is a request refused because the server is busy, not
// because the client broke a rule: a session creation over
// Config.SessionsPerSecond, Config.MaxSessions or
// Config.MaxSessionsPerAddress. Nothing of the request was processed, so
// the client may send it again as it is. The client sees HTTP 503 Service
// Unavailable with a Retry-After header (RFC 9110 §15.6.4, §10.2.3) and no
// binding condition: Strophe.js and StanzaJS resend a request that got 503,
// while a terminal condition (§17.2) would end their attempt.
type OverloadError struct {
	// RetryAfter is when the request may succeed; on the wire it is
	// rounded up to whole seconds, at least one.
	RetryAfter time.Duration
	// Err is the cause, for logs.
	Err error
}

func (e *OverloadError) Error() string {
	return fmt.Sprintf("bosh: overloaded, retry after %v: %v", e.RetryAfter, e.Err)
}

// Unwrap returns the cause.
func (e *OverloadError) Unwrap() error { return e.Err }

// Is reports whether target is ErrOverloaded.
func (e *OverloadError) Is(target error) bool { return target == ErrOverloaded }

// retryAfterSeconds is RetryAfter as the Retry-After header's delay-seconds:
// rounded up, at least 1.
func (e *OverloadError) retryAfterSeconds() int64 {
	s := int64((e.RetryAfter + time.Second - 1) / time.Second)
	return max(s, 1)
}

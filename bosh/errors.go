package bosh

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/httpbind/httpbind/session"
)

// Condition is a terminal binding condition (XEP-0124 §17.2). A Condition is
// an error, so that an upstream can end a session with one directly. It is
// defined once, in package session, which raises some of them itself.
type Condition = session.Condition

// The terminal binding conditions of XEP-0124 §17.2, Table 3.
const (
	BadRequest             = session.BadRequest
	HostGone               = session.HostGone
	HostUnknown            = session.HostUnknown
	ImproperAddressing     = session.ImproperAddressing
	InternalServerError    = session.InternalServerError
	ItemNotFound           = session.ItemNotFound
	OtherRequest           = session.OtherRequest
	PolicyViolation        = session.PolicyViolation
	RemoteConnectionFailed = session.RemoteConnectionFailed
	RemoteStreamError      = session.RemoteStreamError
	SeeOtherURI            = session.SeeOtherURI
	SystemShutdown         = session.SystemShutdown
	UndefinedCondition     = session.UndefinedCondition
)

// LegacyStatus returns the HTTP status that replaces the condition c for a
// legacy client, one that sent no 'ver' (§17.1 Table 2, §17.2): 400, 403 or
// 404, or 200 for conditions that have no legacy code. The handler decides
// it only where it writes a response.
func LegacyStatus(c Condition) int {
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
// condition='…'/> (§17.2): its Condition, the Children of the terminate
// body, and the cause Err, for logs only. It is defined in package session.
type Error = session.Error

// newError returns an *Error with a condition and a cause.
func newError(c Condition, cause error) *Error { return &Error{Condition: c, Err: cause} }

// ConditionOf returns the condition that err carries: the Condition of an
// *Error or a Condition in its chain, or InternalServerError for any other
// non-nil error. It returns "" for nil.
func ConditionOf(err error) Condition { return session.ConditionOf(err) }

// ErrInactive is the Closing.Err of a session that timed out (§10).
var ErrInactive = session.ErrInactive

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

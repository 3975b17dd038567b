package session

import "errors"

// Condition is a terminal binding condition (XEP-0124 §17.2). A Condition
// is an error, so that an upstream can end a session with one directly.
// Package bosh names it bosh.Condition.
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

// Inactive is the reason given to Config.Ended when a session timed out
// (§10). It is not a wire condition: the client is not told, and a later
// request gets item-not-found.
const Inactive Condition = "inactivity"

func (c Condition) Error() string { return "bosh: " + string(c) }

// Error is a failure the client sees as <body type='terminate'
// condition='…'/> (§17.2). Package bosh names it bosh.Error.
type Error struct {
	Condition Condition
	// Children are elements sent inside the terminate body, as raw XML:
	// the <uri/> of see-other-uri, the <stream:error/> of
	// remote-stream-error (XEP-0206 §6), application details of
	// undefined-condition. They must be well-formed and use only prefixes
	// declared on themselves or with the stream's attributes.
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

// ChildrenOf returns the children of the terminate body that err carries
// (Error.Children), or nil.
func ChildrenOf(err error) [][]byte {
	var e *Error
	if errors.As(err, &e) {
		return e.Children
	}
	return nil
}

// ErrInactive is the Closing.Err of a session that timed out (§10).
var ErrInactive = errors.New("bosh: session inactive")

// closingErr is the Closing.Err for the reason a session ended: nil for the
// client's terminate (§13), ErrInactive for inactivity (§10), otherwise
// the condition.
func closingErr(reason Condition) error {
	switch reason {
	case "":
		return nil
	case Inactive:
		return ErrInactive
	}
	return reason
}

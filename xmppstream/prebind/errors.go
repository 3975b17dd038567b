package prebind

import (
	"errors"

	"github.com/httpbind/httpbind/bosh"
)

// ErrAuth is matched (errors.Is) by the *Error of a Prebind whose SASL
// authentication the server refused with a <failure/> (RFC 6120 §6.4.5),
// for example for a wrong password: its SASL field names the condition,
// usually "not-authorized".
var ErrAuth = errors.New("prebind: authentication failed")

// The steps of a Prebind, as Error.Op names them.
const (
	OpCreate  = "create"  // session creation (XEP-0124 §7, XEP-0206 §3)
	OpAuth    = "auth"    // SASL (RFC 6120 §6, XEP-0206 §4)
	OpRestart = "restart" // stream restart (XEP-0206 §5)
	OpBind    = "bind"    // resource binding (RFC 6120 §7)
	OpSession = "session" // session establishment (RFC 3921 §3)
)

// Error is the error of a failed Prebind. Exactly one of Terminate, SASL
// and Stanza is set when the server said why; otherwise Err says what went
// wrong (a protocol error, the context's end).
//
//   - errors.Is(err, bosh.HostUnknown) and friends match Terminate, the
//     condition the connection manager ended the session with (XEP-0124
//     §17.2), for example host-unknown for a domain it does not serve or
//     policy-violation for a limit hit.
//   - errors.Is(err, ErrAuth) matches a refused authentication.
type Error struct {
	// Op is the step that failed: OpCreate, OpAuth, OpRestart, OpBind or
	// OpSession.
	Op string
	// Terminate is the terminal binding condition of a terminate body
	// (XEP-0124 §17.2), or "".
	Terminate bosh.Condition
	// SASL is the condition of a SASL <failure/> (RFC 6120 §6.5), such as
	// "not-authorized", or "".
	SASL string
	// Stanza is the condition of an <iq type='error'/> that refused
	// binding or the session (RFC 6120 §8.3.3), such as "conflict", or "".
	Stanza string
	// Err is the cause, or nil.
	Err error
}

// Error describes the failure; it never includes credentials.
func (e *Error) Error() string {
	s := "prebind: " + e.Op
	switch {
	case e.Terminate != "":
		s += ": session terminated: " + string(e.Terminate)
	case e.SASL != "":
		s += ": authentication failed: " + e.SASL
	case e.Stanza != "":
		s += ": refused: " + e.Stanza
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is e's terminal condition, or ErrAuth for a
// SASL failure.
func (e *Error) Is(target error) bool {
	if c, ok := target.(bosh.Condition); ok {
		return e.Terminate != "" && c == e.Terminate
	}
	return target == ErrAuth && e.SASL != ""
}

package bosh

import (
	"context"

	"github.com/httpbind/httpbind/session"
)

// sink is the Sink of one stream of a session.
type sink struct {
	s    *session.Session
	name string // stream name; empty in a single-stream session
}

func (k *sink) Deliver(payloads ...[]byte) bool { return k.s.Deliver(k.name, payloads, nil) }

func (k *sink) SetAttrs(attrs ...Attr) { k.s.Deliver(k.name, nil, attrs) }

func (k *sink) End(err error) {
	k.s.EndStream(k.name, string(ConditionOf(err)), childrenOf(err))
}

// stream adapts an upstream Stream to the session.
type stream struct {
	s    *session.Session
	name string
	st   Stream
}

func (a *stream) Send(ctx context.Context, r *session.Request) {
	// The request's cancellation must not cut an upstream write short: the
	// payloads are the session's, not the HTTP request's.
	if err := a.st.Send(context.WithoutCancel(ctx), &r.Payload); err != nil {
		a.s.EndStream(a.name, string(ConditionOf(err)), childrenOf(err))
	}
}

func (a *stream) Close(c session.Closing) {
	a.st.Close(Closing{Err: closingErr(c.Condition), Undelivered: c.Undelivered})
}

func closingErr(cond string) error {
	switch cond {
	case "":
		return nil
	case session.Inactive:
		return ErrInactive
	}
	return Condition(cond)
}

package bosh

import "github.com/httpbind/httpbind/session"

// sink is the Sink of one stream of a session.
type sink struct {
	s    *session.Session
	name string // stream name; empty in a single-stream session
}

func (k *sink) Deliver(payloads ...[]byte) bool { return k.s.Deliver(k.name, payloads, nil) }

func (k *sink) SetAttrs(attrs ...Attr) { k.s.Deliver(k.name, nil, attrs) }

func (k *sink) End(err error) { k.s.EndStream(k.name, ConditionOf(err), session.ChildrenOf(err)) }

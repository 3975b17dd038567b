package xmppstream

import (
	"errors"
	"sync"

	"github.com/httpbind/httpbind/bosh"
)

// errCoreFailed is the cause Fail records when it is given a nil error.
var errCoreFailed = errors.New("xmppstream: the XMPP core has failed")

// liveStreams tracks the open streams of a Server, so that Fail can end
// them all, and remembers whether the Server has failed. Its zero value is
// ready to use.
type liveStreams struct {
	mu      sync.Mutex
	failed  error                // set once by fail, then never cleared
	streams map[*stream]struct{} // open streams not yet ended
}

// add registers a newly opened stream; it reports the Server's failure
// instead when Fail has been called.
func (l *liveStreams) add(st *stream) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failed != nil {
		return failedError(l.failed)
	}
	if l.streams == nil {
		l.streams = make(map[*stream]struct{})
	}
	l.streams[st] = struct{}{}
	return nil
}

// remove forgets a stream that ended. It is called with the stream's own
// lock held; l.mu is never held while a stream's lock is taken.
func (l *liveStreams) remove(st *stream) {
	l.mu.Lock()
	delete(l.streams, st)
	l.mu.Unlock()
}

// fail records err as the Server's failure and returns the streams open
// until then; it returns nil when the Server had already failed.
func (l *liveStreams) fail(err error) []*stream {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failed != nil {
		return nil
	}
	l.failed = err
	out := make([]*stream, 0, len(l.streams))
	for st := range l.streams {
		out = append(out, st)
	}
	l.streams = nil
	return out
}

// failedError is the error a failed Server ends or refuses sessions with:
// remote-connection-failed (XEP-0124 §17.2).
func failedError(err error) error {
	return &bosh.Error{Condition: bosh.RemoteConnectionFailed, Err: err}
}

// Fail tells the Server that its Core has failed (for example the
// connection to the process hosting it broke). Every session open on the
// Server ends at once with remote-connection-failed (XEP-0124 §17.2): the
// requests it holds are answered with a terminate body carrying that
// condition, after the payloads still queued. Every bound client is
// unbound (Core.Unbind, exactly once as always; with no undelivered
// payloads, since those are still on their way to the client), and every
// later Open fails with remote-connection-failed.
//
// A failed Server stays failed: to serve again, make a new Server (and a
// new bosh.Handler on it). A nil err is replaced by a generic one; the
// first call wins and later calls do nothing. Fail calls Core.Unbind for
// the clients it unbinds before returning, so it must not be called from
// inside a Core method or while holding a lock Unbind takes; it is safe
// to call concurrently with anything else.
func (s *Server) Fail(err error) {
	if err == nil {
		err = errCoreFailed
	}
	streams := s.live.fail(err)
	if streams == nil {
		return
	}
	s.log.Warn("xmppstream: core failed; ending all sessions", "sessions", len(streams), "err", err)
	for _, st := range streams {
		st.mu.Lock()
		if st.ended {
			st.mu.Unlock()
			continue
		}
		now := st.endLocked(nil)
		st.mu.Unlock()
		st.sink.End(failedError(err))
		if now {
			s.core.Unbind(st.client, nil)
		}
	}
}

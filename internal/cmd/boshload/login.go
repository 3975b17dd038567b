package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/httpbind/httpbind/internal/xmppwire"
)

// element is a copy of one received child element, with its name.
type element struct {
	space, local string
	raw          []byte
}

// errStage wraps a login error with the step that failed.
type errStage struct {
	stage string
	err   error
}

func (e *errStage) Error() string { return e.stage + ": " + e.err.Error() }
func (e *errStage) Unwrap() error { return e.err }

// login creates the session and logs in (XEP-0206 §3–§5): SASL PLAIN,
// restart, resource binding and, when advertised, the RFC 3921 session.
// It runs alone on the session, before the session is started.
func (s *session) login(ctx context.Context) error {
	user, pass := s.l.o.user(s.acct), s.l.o.pass(s.acct)
	feats, err := s.create(ctx)
	if err != nil {
		return &errStage{"create", err}
	}
	if !bytes.Contains(feats.raw, []byte(">PLAIN<")) {
		return &errStage{"features", errors.New("PLAIN is not offered")}
	}
	creds := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
	if err := s.send(ctx, "<auth xmlns='"+xmppwire.NSSASL+"' mechanism='PLAIN'>"+creds+"</auth>"); err != nil {
		return &errStage{"auth", err}
	}
	el, err := s.await(ctx, func(e *element) bool { return e.space == xmppwire.NSSASL })
	switch {
	case err != nil:
		return &errStage{"auth", err}
	case el.local != "success":
		return &errStage{"auth", fmt.Errorf("SASL %s", saslCondition(el.raw))}
	}
	body := getBuf()
	body.b = appendRestart(body.b, s.nextRID(), s.sid, s.l.o.domain)
	if err := s.exchange(ctx, body); err != nil {
		return &errStage{"restart", err}
	}
	if feats, err = s.await(ctx, isFeatures); err != nil {
		return &errStage{"restart", err}
	}
	if !bytes.Contains(feats.raw, []byte(xmppwire.NSBind)) {
		return &errStage{"restart", errors.New("no <bind/> offered")}
	}
	if err := s.iq(ctx, "bind_1", "<bind xmlns='"+xmppwire.NSBind+"'><resource>boshload</resource></bind>"); err != nil {
		return &errStage{"bind", err}
	}
	if bytes.Contains(feats.raw, []byte(xmppwire.NSSession)) {
		if err := s.iq(ctx, "sess_1", "<session xmlns='"+xmppwire.NSSession+"'/>"); err != nil {
			return &errStage{"session", err}
		}
	}
	if s.jid == "" {
		return &errStage{"bind", errors.New("no <jid/> in the bind result")}
	}
	s.pending = nil
	return nil
}

func isFeatures(el *element) bool { return el.space == xmppwire.NSStream && el.local == "features" }

// maxRetryAfter bounds the wait a Retry-After header asks for.
const maxRetryAfter = 30 * time.Second

// create sends the session creation request until the server accepts it
// and returns the stream features (XEP-0206 §3). A creation refused with
// HTTP 503 (the server is busy and did not process it; boshd's session
// limits) is sent again after its Retry-After (RFC 9110 §10.2.3; 1 s
// without one, at most maxRetryAfter), as Strophe.js and StanzaJS do. A
// creation refused with policy-violation (other servers' rate or
// per-address limits) is retried after a pause that doubles up to a
// second. Both until ctx ends.
func (s *session) create(ctx context.Context) (*element, error) {
	pause := 50 * time.Millisecond
	for {
		s.rid = 1<<20 + rand.Uint64N(1<<40)
		body := getBuf()
		body.b = appendCreate(body.b, s.nextRID(), s.l.o.domain, int(s.l.o.wait/time.Second))
		err := s.exchange(ctx, body)
		if err == nil {
			break
		}
		var (
			term *terminated
			he   *httpError
			wait time.Duration
			why  string
		)
		switch {
		case errors.As(err, &he) && he.status == http.StatusServiceUnavailable:
			s.l.create503.Add(1)
			wait, why = he.retryAfter, "HTTP 503"
			if wait <= 0 {
				wait = time.Second
			}
			wait = min(wait, maxRetryAfter)
		case errors.As(err, &term) && term.condition == "policy-violation":
			s.l.createRetries.Add(1)
			wait, why = pause, "policy-violation"
			pause = min(2*pause, time.Second)
		default:
			return nil, err
		}
		if !sleepUntil(ctx, time.Now().Add(wait)) {
			return nil, fmt.Errorf("%w (after %s)", context.Cause(ctx), why)
		}
	}
	if s.sid == "" {
		return nil, errors.New("no sid in the creation response")
	}
	return s.await(ctx, isFeatures)
}

// nextRID returns the rid of the next request and advances it.
func (s *session) nextRID() uint64 { s.rid++; return s.rid - 1 }

// send sends one stanza in a request of its own.
func (s *session) send(ctx context.Context, stanza string) error {
	b := getBuf()
	b.b = appendOpen(b.b, s.nextRID(), s.sid, "")
	b.b = append(b.b, stanza...)
	b.b = append(b.b, closeBody...)
	return s.exchange(ctx, b)
}

// iq sends an iq of type set and waits for its result; a bind result
// gives the session's JID.
func (s *session) iq(ctx context.Context, id, child string) error {
	if err := s.send(ctx, "<iq type='set' id='"+id+"' xmlns='jabber:client'>"+child+"</iq>"); err != nil {
		return err
	}
	el, err := s.await(ctx, func(e *element) bool { return e.local == "iq" && hasID(e.raw, id) })
	if err != nil {
		return err
	}
	tag := startTag(el.raw)
	if !bytes.Contains(tag, []byte("type='result'")) && !bytes.Contains(tag, []byte(`type="result"`)) {
		return fmt.Errorf("iq %s not answered with a result: %.200s", id, el.raw)
	}
	if id == "bind_1" {
		s.mu.Lock() // the partner reads it (prepareMessages)
		s.jid = textOf(el.raw, "jid")
		s.mu.Unlock()
	}
	return nil
}

// exchange posts body (a pooled buffer's bytes, which it puts back) and
// keeps copies of the response's children in s.pending.
func (s *session) exchange(ctx context.Context, body *buffer) error {
	// A creation is not resent after a network error: the server may
	// have made a session whose sid the client never learnt (XEP-0124
	// §7.1); it counts as a failed login.
	var resp *buffer
	var err error
	if s.sid == "" {
		resp, err = s.t.post(ctx, body.b, false)
	} else {
		resp, err = s.post(ctx, body.b, false)
	}
	putBuf(body)
	if err != nil {
		return err
	}
	defer putBuf(resp)
	if err := s.rep.parse(resp.b); err != nil {
		return err
	}
	if s.sid == "" { // the creation response (XEP-0124 §7.2)
		s.sid = string(s.rep.attr("sid"))
		s.requests = 2
		if n, err := strconv.Atoi(string(s.rep.attr("requests"))); err == nil && n >= 1 {
			s.requests = n
		}
	}
	for i, c := range s.rep.doc.Children {
		s.pending = append(s.pending, &element{space: string(c.Space), local: string(c.Local), raw: bytes.Clone(s.rep.child(i))})
	}
	return nil
}

// await returns the first pending element that match accepts, dropping
// the ones before it, and sends empty requests until one arrives.
func (s *session) await(ctx context.Context, match func(*element) bool) (*element, error) {
	for {
		for i, el := range s.pending {
			if match(el) {
				s.pending = s.pending[i+1:]
				return el, nil
			}
		}
		s.pending = s.pending[:0]
		b := getBuf()
		b.b = append(appendOpen(b.b, s.nextRID(), s.sid, ""), closeBody...)
		if err := s.exchange(ctx, b); err != nil {
			return nil, err
		}
	}
}

// saslCondition names the condition of a SASL <failure/> (RFC 6120 §6.5).
func saslCondition(raw []byte) string {
	for _, c := range []string{"aborted", "account-disabled", "credentials-expired", "encryption-required",
		"incorrect-encoding", "invalid-authzid", "invalid-mechanism", "malformed-request",
		"mechanism-too-weak", "not-authorized", "temporary-auth-failure"} {
		if bytes.Contains(raw, []byte("<"+c)) {
			return c
		}
	}
	return "failure"
}

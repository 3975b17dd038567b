package bosh

import (
	"bytes"
	"errors"
	"io"
	"net/http"
)

// What a front end such as bosh/cluster needs of a Handler it stands in
// front of: the sid of a request before the Handler serves it, the
// Handler's own way of answering a failure, and its judgement of TLS.

// PeekSID reads r's body, at most Config.MaxBodySize bytes, and returns
// the body as it came (still compressed, if it was) and the 'sid' of its
// <body/>: "" for a session creation request (§7.1). The body is
// decompressed and converted to UTF-8 as ServeHTTP would (§7.2), only to
// find the sid. A front end then serves the request with a copy of r whose
// Body reads raw, here or on the session's owner.
//
// It returns a nil raw and an error with a condition when the body cannot
// be read (too large: policy-violation); the request is then answered with
// Fail. It returns raw and an error when raw is not a valid <body/>:
// ServeHTTP, given raw, answers it with the exact condition.
func (h *Handler) PeekSID(r *http.Request) (sid string, raw []byte, err error) {
	if r.ContentLength > h.cfg.MaxBodySize {
		return "", nil, newError(PolicyViolation, errors.New("bosh: body too large"))
	}
	raw, err = readAll(nil, http.MaxBytesReader(nil, r.Body, h.cfg.MaxBodySize))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return "", nil, newError(PolicyViolation, errors.New("bosh: body too large"))
		}
		return "", nil, newError(BadRequest, err)
	}
	st := h.states.Get().(*reqState)
	defer h.states.Put(st)
	peek := *r // only the headers and Body are read
	peek.Body = io.NopCloser(bytes.NewReader(raw))
	peek.ContentLength = int64(len(raw))
	data, err := h.readBody(&peek, st)
	if err != nil {
		return "", raw, err
	}
	if err := decodeBody(data, h.limits, &st.doc, &st.b); err != nil {
		return "", raw, err
	}
	return string(st.b.sid), raw, nil
}

// Config returns the handler's configuration, defaults filled in (a copy:
// changing it changes nothing).
func (h *Handler) Config() Config {
	c := h.cfg
	c.AllowOrigins = append([]string(nil), c.AllowOrigins...)
	c.Charsets = append([]string(nil), c.Charsets...)
	c.Routes = append([]string(nil), c.Routes...)
	c.TrustedProxies = append([]string(nil), c.TrustedProxies...)
	return c
}

// Fail answers r with err as ServeHTTP answers its own failures, in the one
// place that writes them: a terminate body with ConditionOf(err) (§17.2),
// or, for an *OverloadError, HTTP 503 with Retry-After.
func (h *Handler) Fail(w http.ResponseWriter, r *http.Request, err error) {
	h.fail(w, r, nil, err)
}

// Secure reports whether r reached the handler over TLS as the handler
// judges it for §19.1: r.TLS is set, or r comes from one of
// Config.TrustedProxies and the last proxy says proto=https (RFC 7239
// §5.4; X-Forwarded-Proto without Forwarded). A session created by a
// secure request is secure, and its requests must be secure too.
func (h *Handler) Secure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if len(h.proxies) == 0 {
		return false
	}
	ip := parseHop(r.RemoteAddr)
	return ip.IsValid() && h.proxies.trusted(ip) && forwarded(r.Header, "proto", "X-Forwarded-Proto") == "https"
}

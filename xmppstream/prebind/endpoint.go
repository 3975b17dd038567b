package prebind

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/httpbind/httpbind/bosh"
)

// ErrForbidden, returned by an Endpoint's auth func (or wrapped in its
// error), makes Endpoint answer 403 Forbidden instead of 401.
var ErrForbidden = errors.New("prebind: forbidden")

// Endpoint returns the HTTP endpoint for converse.js's prebind_url: for a
// GET or POST it calls auth, the host's own authentication of the request
// (a session cookie, a header, HTTP Basic…), which returns whom to log in
// as, prebinds a session with p, and answers 200 with Content-Type
// application/json and the Session: {"jid":…,"sid":…,"rid":…}. Responses
// are never cached (Cache-Control: no-store).
//
// When the Request auth returns has no RemoteAddr, Endpoint uses the HTTP
// request's, with its Forwarded and X-Forwarded-For headers (which the
// bosh.Handler believes only from its Config.TrustedProxies), so that
// bosh.Config.MaxSessionsPerAddress counts the end user's sessions. A
// request that came over TLS makes a secure session (XEP-0124 §19.1): the
// browser must then continue it over HTTPS.
//
// Errors are JSON too, {"error":"…"}, never with credentials: an auth
// error is 401 (403 when it matches ErrForbidden) and no session is
// created; a refused login (ErrAuth) is 401; a limit of the connection
// manager (policy-violation) is 429; a busy connection manager
// (bosh.ErrOverloaded) is 503 with its Retry-After; system-shutdown is 503; a resource
// conflict is 409; any other failure is 502. Other methods get 405.
func Endpoint(p *Prebinder, auth func(*http.Request) (Request, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			w.Header().Set("Allow", "GET, POST")
			writeJSON(w, http.StatusMethodNotAllowed, errorBody{"method not allowed"})
			return
		}
		req, err := auth(r)
		if err != nil {
			p.cfg.Logger.Debug("prebind: request not authenticated", "remote", r.RemoteAddr, "err", err)
			if errors.Is(err, ErrForbidden) {
				writeJSON(w, http.StatusForbidden, errorBody{"forbidden"})
			} else {
				writeJSON(w, http.StatusUnauthorized, errorBody{"unauthorized"})
			}
			return
		}
		if req.RemoteAddr == "" {
			req.RemoteAddr = r.RemoteAddr
			req.forwarded = forwarding(r.Header)
		}
		req.tls = r.TLS
		s, err := p.Prebind(r.Context(), req)
		if err != nil {
			status, msg := statusOf(err)
			p.cfg.Logger.Info("prebind: failed", "remote", r.RemoteAddr, "status", status, "err", err)
			var over *bosh.OverloadError
			if errors.As(err, &over) {
				w.Header().Set("Retry-After", strconv.Itoa(int(max(over.RetryAfter/time.Second, 1))))
			}
			writeJSON(w, status, errorBody{msg})
			return
		}
		writeJSON(w, http.StatusOK, s)
	})
}

// errorBody is the JSON of an Endpoint error.
type errorBody struct {
	Error string `json:"error"`
}

// statusOf returns the HTTP status and message for a Prebind error.
func statusOf(err error) (int, string) {
	var e *Error
	if !errors.As(err, &e) {
		return http.StatusBadGateway, "prebind failed"
	}
	switch {
	case errors.Is(err, bosh.ErrOverloaded):
		return http.StatusServiceUnavailable, "service unavailable"
	case e.SASL != "":
		return http.StatusUnauthorized, e.SASL
	case e.Terminate == bosh.PolicyViolation:
		return http.StatusTooManyRequests, string(e.Terminate)
	case e.Terminate == bosh.SystemShutdown:
		return http.StatusServiceUnavailable, string(e.Terminate)
	case e.Terminate != "":
		return http.StatusBadGateway, string(e.Terminate)
	case e.Stanza == "conflict":
		return http.StatusConflict, e.Stanza
	case e.Stanza != "":
		return http.StatusBadGateway, e.Stanza
	}
	return http.StatusBadGateway, "prebind failed"
}

// writeJSON writes v as the JSON response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// forwarding returns the forwarding headers of h (RFC 7239 Forwarded and
// X-Forwarded-For), which the handler reads with bosh.Config.TrustedProxies.
func forwarding(h http.Header) http.Header {
	out := make(http.Header)
	for _, k := range []string{"Forwarded", "X-Forwarded-For"} {
		if v := h.Values(k); len(v) > 0 {
			out[k] = v
		}
	}
	return out
}

package bosh

import (
	"net/http"
	"net/url"
	"slices"
)

// cors adds the CORS response headers for the request's origin and reports
// whether the request may go on. Without Config.AllowOrigins, the Origin
// header is ignored like any header BOSH does not define (§5). With it, an
// origin on the list is answered with its own name and credentials allowed,
// "*" allows any origin without credentials (never "*" with credentials),
// the handler's own host is always allowed, and any other origin is
// refused.
func (h *Handler) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || len(h.cfg.AllowOrigins) == 0 {
		return true
	}
	hdr := w.Header()
	hdr.Add("Vary", "Origin")
	switch {
	case origin != "*" && slices.Contains(h.cfg.AllowOrigins, origin):
		// "*" on the list is the wildcard, not an origin named "*": a
		// request with "Origin: *" must not get "*" with credentials.
		hdr.Set("Access-Control-Allow-Origin", origin)
		hdr.Set("Access-Control-Allow-Credentials", "true")
	case slices.Contains(h.cfg.AllowOrigins, "*"):
		hdr.Set("Access-Control-Allow-Origin", "*")
	default:
		u, err := url.Parse(origin)
		return err == nil && u.Host != "" && u.Host == r.Host
	}
	return true
}

// preflight answers a CORS preflight request (OPTIONS) from an allowed
// origin.
func (h *Handler) preflight(w http.ResponseWriter) {
	hdr := w.Header()
	if hdr.Get("Access-Control-Allow-Origin") != "" {
		hdr.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
		hdr.Set("Access-Control-Allow-Headers", "Content-Type, Content-Encoding")
		hdr.Set("Access-Control-Max-Age", "86400")
	}
	hdr.Set("Allow", "POST, OPTIONS")
	hdr.Set("Content-Length", "0")
	w.WriteHeader(http.StatusNoContent)
}

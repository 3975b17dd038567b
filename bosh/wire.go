package bosh

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/httpbind/httpbind/session"
)

var errOrigin = errors.New("bosh: origin not allowed")

// terminateBody encodes <body type='terminate' condition='…'/> (§17.2).
func terminateBody(c Condition, children [][]byte) []byte {
	return appendBody(nil, &session.Reply{Type: session.TypeTerminate, Condition: c, Payloads: children})
}

// fail is the one place that turns an error into what the client sees: a
// terminate body with the error's condition, with the legacy HTTP status
// instead for a legacy client (§17.1, §17.2); or, for an *OverloadError,
// HTTP 503 with Retry-After and no condition. Conditions that are not the
// client's fault are logged.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, inf *info, err error) {
	var over *OverloadError
	if errors.As(err, &over) {
		h.stats.refused(over.Err)
		h.overloaded(w, r, over)
		return
	}
	c := ConditionOf(err)
	if c == InternalServerError {
		h.cfg.Logger.Warn("bosh: internal error", "err", err)
	} else {
		h.cfg.Logger.Debug("bosh: request refused", "condition", string(c), "err", err, "remote", r.RemoteAddr)
	}
	status, content := http.StatusOK, ""
	if inf != nil {
		content = inf.content
		if inf.legacy {
			status = LegacyStatus(c)
		}
	}
	if errors.Is(err, errOrigin) {
		status = http.StatusForbidden
	}
	h.write(w, r.Header.Get("Accept-Encoding"), content, status, terminateBody(c, session.ChildrenOf(err)))
}

// overloaded answers a request the server is too busy to take: HTTP 503
// with Retry-After (RFC 9110 §15.6.4), so that the client sends it again.
func (h *Handler) overloaded(w http.ResponseWriter, r *http.Request, e *OverloadError) {
	h.stats.overloaded.Add(1)
	h.cfg.Logger.Debug("bosh: request refused, overloaded", "err", e.Err, "remote", r.RemoteAddr)
	secs := e.retryAfterSeconds()
	body := "bosh: service unavailable, retry after " + strconv.FormatInt(secs, 10) + "s\n"
	hdr := w.Header()
	hdr.Set("Retry-After", strconv.FormatInt(secs, 10))
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusServiceUnavailable)
	n, _ := io.WriteString(w, body)
	h.stats.out.Add(uint64(n))
	h.stats.outPlain.Add(uint64(n))
}

// write sends one response body with a Content-Length, never chunked (§5),
// compressed when the client accepts it (accept is the request's
// Accept-Encoding) and it is worth it (§5).
func (h *Handler) write(w http.ResponseWriter, accept, content string, status int, body []byte) {
	if content == "" {
		content = contentDefault
	}
	hdr := w.Header()
	hdr.Set("Content-Type", content)
	hdr.Set("Cache-Control", "no-store")
	h.stats.outPlain.Add(uint64(len(body)))
	if len(body) >= h.cfg.CompressMin {
		if enc := acceptEncoding(accept); enc != "" {
			body = compress(enc, body)
			hdr.Set("Content-Encoding", enc)
			hdr.Add("Vary", "Accept-Encoding")
		}
	}
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	n, _ := w.Write(body)
	h.stats.out.Add(uint64(n))
}

// acceptEncoding picks gzip or deflate from an Accept-Encoding header, or
// "" when the client accepts neither (RFC 9110 §12.5.3).
func acceptEncoding(header string) string {
	if header == "" {
		return ""
	}
	best, bestQ := "", 0.0
	for part := range strings.SplitSeq(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		name = strings.ToLower(strings.TrimSpace(name))
		q := 1.0
		// The weight's "q=" is case-insensitive (RFC 9110 §12.4.2).
		if v, ok := strings.CutPrefix(strings.ToLower(strings.TrimSpace(params)), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		if (name == "gzip" || name == "deflate") && q > bestQ {
			best, bestQ = name, q
		}
	}
	return best
}

var gzipPool = sync.Pool{New: func() any { w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed); return w }}
var zlibPool = sync.Pool{New: func() any { w, _ := zlib.NewWriterLevel(nil, zlib.BestSpeed); return w }}

// compress returns body encoded with gzip or deflate (zlib, RFC 9110 §8.4.1.2).
func compress(enc string, body []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(body)/2 + 64)
	if enc == "gzip" {
		zw := gzipPool.Get().(*gzip.Writer)
		zw.Reset(&buf)
		zw.Write(body)
		zw.Close()
		gzipPool.Put(zw)
	} else {
		zw := zlibPool.Get().(*zlib.Writer)
		zw.Reset(&buf)
		zw.Write(body)
		zw.Close()
		zlibPool.Put(zw)
	}
	return buf.Bytes()
}

// readBody reads a request body into st.buf: refused before it is read
// whole when it is larger than MaxBodySize, decompressed when the client
// used an encoding we advertised in 'accept' (§7.2), and converted to UTF-8
// when it names a charset we advertised in 'charsets' (§7.2).
func (h *Handler) readBody(r *http.Request, st *reqState) ([]byte, error) {
	limit := h.cfg.MaxBodySize
	if r.ContentLength > limit {
		return nil, newError(PolicyViolation, errors.New("bosh: body too large"))
	}
	cr := &st.wire
	*cr = countingReader{r: http.MaxBytesReader(nil, r.Body, limit)}
	var src io.Reader = cr
	defer func() {
		h.stats.in.Add(uint64(cr.n))
		*cr, st.decoded = countingReader{}, io.LimitedReader{}
	}()
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); {
	case enc == "", enc == "identity", notACoding(enc):
	case enc == "gzip", enc == "x-gzip":
		zr, err := gzip.NewReader(src)
		if err != nil {
			return nil, newError(BadRequest, err)
		}
		src = zr
	case enc == "deflate":
		zr, err := zlib.NewReader(src)
		if err != nil {
			return nil, newError(BadRequest, err)
		}
		src = zr
	default:
		return nil, newError(BadRequest, errors.New("bosh: unsupported Content-Encoding "+enc))
	}
	st.decoded = io.LimitedReader{R: src, N: limit + 1}
	buf, err := readAll(st.buf[:0], &st.decoded)
	st.buf = buf
	h.stats.inDecoded.Add(uint64(len(buf)))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig) || int64(len(buf)) > limit:
		return nil, newError(PolicyViolation, errors.New("bosh: body too large"))
	case err != nil:
		return nil, newError(BadRequest, err) // truncated or corrupt compressed data
	}
	return h.toUTF8(buf, r.Header.Get("Content-Type"))
}

// notACoding reports whether a Content-Encoding value is not a content
// coding at all but a media type, as libpurple 2.x sends
// ("Content-Encoding: text/xml; charset=utf-8", with no Content-Type). A
// content coding is a token (RFC 9110 §8.4.1), which has no '/' and no
// parameters; such a header names no coding, and the body is read as it
// came, as Prosody and ejabberd do. A real coding this handler does not
// know is still refused with bad-request (§7.2).
func notACoding(enc string) bool {
	return strings.ContainsAny(enc, "/;")
}

// readAll reads r to its end, appending to buf.
func readAll(buf []byte, r io.Reader) ([]byte, error) {
	if cap(buf) == 0 {
		buf = make([]byte, 0, 1024)
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

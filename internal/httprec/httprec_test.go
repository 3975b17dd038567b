package httprec_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/httpbind/httpbind/internal/httprec"
)

// The first status written wins; a body without one is 200 OK; the header
// given to New is the one written to.
func TestRecorder(t *testing.T) {
	tests := []struct {
		name   string
		write  func(w http.ResponseWriter)
		status int
		body   string
	}{
		{name: "nothing", write: func(http.ResponseWriter) {}, status: http.StatusOK},
		{name: "body only", write: func(w http.ResponseWriter) { io.WriteString(w, "<body/>") }, status: http.StatusOK, body: "<body/>"},
		{name: "status then body", write: func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusNotFound)
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, "x")
		}, status: http.StatusNotFound, body: "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Vary": {"Origin"}}
			r := httprec.New(h)
			r.Header().Set("Content-Type", "text/xml")
			tt.write(r)
			assert.Equal(t, tt.status, r.Code())
			assert.Equal(t, tt.body, r.Body.String())
			assert.Equal(t, "text/xml", h.Get("Content-Type"), "the header given is the one written to")
			assert.Equal(t, "Origin", r.Head.Get("Vary"))
		})
	}
	var zero httprec.Recorder
	zero.Header().Set("A", "b")
	assert.Equal(t, "b", zero.Head.Get("A"), "a zero Recorder makes its header")
}

package bosh

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncWriter is a bytes.Buffer safe for concurrent writers.
type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) lines() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Split(strings.TrimSpace(w.b.String()), "\n")
}

// TestSessionEndLogLine: one Info line per session at its end, naming the
// session by a hash of its sid (never the sid), with its duration,
// requests, payloads each way and reason.
func TestSessionEndLogLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out syncWriter
		x := newTester(t, Config{Logger: slog.New(slog.NewJSONHandler(&out, nil))})
		x.up.echo = true
		s := x.create(1000, "")
		time.Sleep(3 * time.Second)
		r := s.send(1, "", holdMsg("a")) // echoed: one payload each way
		require.Len(t, r.Children, 1)
		s.send(2, "", holdMsg("b"))
		time.Sleep(2 * time.Second)
		s.send(3, "type='terminate'", "")

		var ends []map[string]any
		for _, l := range out.lines() {
			var m map[string]any
			require.NoError(t, json.Unmarshal([]byte(l), &m), l)
			if m["msg"] == "bosh: session ended" {
				ends = append(ends, m)
			}
		}
		require.Len(t, ends, 1, "one line per session")
		e := ends[0]
		sum := sha256.Sum256([]byte(s.sid))
		assert.Equal(t, "INFO", e["level"])
		assert.Equal(t, hex.EncodeToString(sum[:6]), e["session"])
		assert.Equal(t, "terminate", e["reason"])
		assert.Equal(t, float64(5*time.Second), e["duration"])
		assert.Equal(t, 3.0, e["requests"])
		assert.Equal(t, 2.0, e["payloads_in"])
		assert.Equal(t, 2.0, e["payloads_out"])
		assert.NotContains(t, strings.Join(out.lines(), "\n"), s.sid, "the sid is not logged at Info")
	})
}

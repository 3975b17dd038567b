package bosh

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/httpbind/httpbind/internal/syncbuf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSessionEndLogLine: one Info line per session at its end, naming the
// session by a hash of its sid (never the sid), with its duration,
// requests, payloads each way and reason.
func TestSessionEndLogLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out syncbuf.Buffer
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
		for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
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
		assert.NotContains(t, strings.Join(strings.Split(strings.TrimSpace(out.String()), "\n"), "\n"), s.sid, "the sid is not logged at Info")
	})
}

package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/bosh/boshtest"
)

// TestLogFormat: -log-format json writes one JSON object a line; text,
// the default, key=value pairs.
func TestLogFormat(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, line string)
	}{
		{name: "text by default", args: nil, check: func(t *testing.T, line string) {
			assert.True(t, strings.HasPrefix(line, "time="), line)
			assert.Contains(t, line, " level=")
		}},
		{name: "json", args: []string{"-log-format", "json"}, check: func(t *testing.T, line string) {
			var v map[string]any
			require.NoError(t, json.Unmarshal([]byte(line), &v), line)
			assert.Contains(t, v, "time")
			assert.Contains(t, v, "level")
			assert.Contains(t, v, "msg")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			d := start(t, append([]string{"-log-level", "debug"}, tc.args...)...)
			c := boshtest.NewClient(d.url, boshtest.ClientConfig{})
			defer c.Close()
			require.NoError(t, c.Connect(ctx, "localhost"))
			require.NoError(t, c.Terminate(ctx))
			lines := strings.Split(strings.TrimSpace(d.stderr.String()), "\n")
			require.NotEmpty(t, lines[0], "something was logged")
			for _, l := range lines {
				tc.check(t, l)
			}
		})
	}
}

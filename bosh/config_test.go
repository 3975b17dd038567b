package bosh

import (
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConfigError: an invalid field is a *ConfigError naming the field,
// the value and what is allowed, from Validate as from NewHandler.
func TestConfigError(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want ConfigError
		msg  string
	}{
		{"a number out of bounds", Config{MaxSessions: -1}, ConfigError{Field: "MaxSessions", Value: -1, Want: "1 to 1073741824"},
			"bosh: Config.MaxSessions -1: want 1 to 1073741824"},
		{"a duration out of bounds", Config{MaxWait: -1}, ConfigError{Field: "MaxWait", Value: Config{MaxWait: -1}.MaxWait, Want: "1s to 18h12m15s"},
			"bosh: Config.MaxWait -1ns: want 1s to 18h12m15s"},
		{"a rate out of bounds", Config{SessionsPerSecond: 0.5}, ConfigError{Field: "SessionsPerSecond", Value: 0.5, Want: "1 to 1e6"},
			"bosh: Config.SessionsPerSecond 0.5: want 1 to 1e6"},
		{"an item of a list", Config{AllowOrigins: []string{"https://ok.example", "nope"}},
			ConfigError{Field: "AllowOrigins", Value: "nope", Want: "an origin like https://host[:port], or *"},
			`bosh: Config.AllowOrigins "nope": want an origin like https://host[:port], or *`},
		{"a node id with a capital", Config{SIDPrefix: "N2"}, ConfigError{Field: "SIDPrefix", Value: "N2", Want: "1 to 16 characters a-z, 0-9 and -"},
			`bosh: Config.SIDPrefix "N2": want 1 to 16 characters a-z, 0-9 and -`},
		{"a node id too long", Config{SIDPrefix: "abcdefghijklmnopq"}, ConfigError{Field: "SIDPrefix", Value: "abcdefghijklmnopq", Want: "1 to 16 characters a-z, 0-9 and -"},
			`bosh: Config.SIDPrefix "abcdefghijklmnopq": want 1 to 16 characters a-z, 0-9 and -`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			var ce *ConfigError
			require.True(t, errors.As(err, &ce), "%v", err)
			assert.Equal(t, tc.want.Field, ce.Field)
			assert.Equal(t, tc.want.Value, ce.Value)
			assert.Equal(t, tc.want.Want, ce.Want)
			assert.EqualError(t, err, tc.msg)
			_, err = NewHandler(&fakeUp{}, tc.cfg)
			assert.ErrorAs(t, err, &ce, "NewHandler judges alike")
		})
	}
	assert.NoError(t, Config{}.Validate(), "zero fields are the defaults")
}

// TestAllowOriginsNormalized: origins on AllowOrigins are compared in
// their serialization (RFC 6454 §6.1), as browsers send Origin: lower-case
// scheme and host, no trailing slash.
func TestAllowOriginsNormalized(t *testing.T) {
	x := newTester(t, Config{AllowOrigins: []string{"HTTPS://Chat.Example.com/"}})
	r := x.send(createBody(1000, ""), "Origin", "https://chat.example.com")
	assert.Equal(t, http.StatusOK, r.Status, r.Raw)
	assert.Equal(t, "https://chat.example.com", r.Header.Get("Access-Control-Allow-Origin"))
}

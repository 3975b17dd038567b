package bosh_test

import (
	"context"
	"encoding/base64"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"mellium.im/sasl"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/bosh/boshtest"
	"github.com/httpbind/httpbind/internal/syncbuf"
	"github.com/httpbind/httpbind/xmppstream"
	"github.com/httpbind/httpbind/xmppstream/memcore"
	"github.com/httpbind/httpbind/xmppstream/xmpptest"
)

// TestLogsHoldNoSecrets runs a full login (SASL PLAIN, whose payload is the
// password in base64) and a chat through xmpptest.NewServer, with every
// component logging to one handler, at Info (the default level) and at
// Debug, and checks that the logs never hold the password, the SASL
// payload or the message body (style guide: logs never contain passwords,
// SASL payloads or message bodies).
func TestLogsHoldNoSecrets(t *testing.T) {
	const (
		password = "pa55-W0rd-sekrit"
		body     = "the-secret-message-body-7731"
	)
	plain := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + password))
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
		t.Run(level.String(), func(t *testing.T) {
			var buf syncbuf.Buffer
			log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: level}))
			srv, err := xmpptest.NewServer(xmpptest.Config{Handler: bosh.Config{Logger: log}, Stream: xmppstream.ServerConfig{Logger: log}, Core: &memcore.Config{Logger: log}})
			require.NoError(t, err)
			defer srv.Close()
			require.NoError(t, srv.Core.AddUser("alice", password))
			require.NoError(t, srv.Core.AddUser("bob", password))
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()

			login := func(user, res string) *boshtest.Client {
				c := boshtest.NewClient(srv.URL, boshtest.ClientConfig{Mechanism: sasl.Plain})
				require.NoError(t, c.Connect(ctx, "localhost"))
				_, err := c.Login(ctx, user, password, res)
				require.NoError(t, err)
				return c
			}
			alice, bob := login("alice", "a"), login("bob", "b")
			defer alice.Close()
			defer bob.Close()
			// A failed login too: its payload must not be logged either.
			bad := boshtest.NewClient(srv.URL, boshtest.ClientConfig{Mechanism: sasl.Plain})
			require.NoError(t, bad.Connect(ctx, "localhost"))
			_, err = bad.Login(ctx, "alice", password+"-wrong", "x")
			require.Error(t, err)
			bad.Close()

			require.NoError(t, alice.Send(ctx, []byte("<message to='bob@localhost/b' type='chat' xmlns='jabber:client'><body>"+body+"</body></message>")))
			got, err := bob.Receive(ctx)
			require.NoError(t, err)
			require.Contains(t, string(got), body)
			// A message to an offline user is stored: no body in the logs.
			require.NoError(t, alice.Send(ctx, []byte("<message to='carol@localhost' type='chat' xmlns='jabber:client'><body>"+body+"</body></message>")))
			require.NoError(t, alice.Terminate(ctx))
			require.NoError(t, bob.Terminate(ctx))
			srv.Close()

			logs := buf.String()
			t.Logf("%s: %d bytes of logs:\n%s", level, len(logs), logs)
			for name, secret := range map[string]string{
				"password":           password,
				"SASL PLAIN payload": plain,
				"message body":       body,
			} {
				assert.NotContains(t, logs, secret, "%s in the logs at %s", name, level)
			}
			if level == slog.LevelDebug {
				assert.NotEmpty(t, logs, "debug logs were written, so the check means something")
			}
		})
	}
}

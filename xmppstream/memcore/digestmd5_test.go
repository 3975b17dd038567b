package memcore_test

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/bosh/boshtest"
	"github.com/httpbind/httpbind/internal/digestmd5"
	"github.com/httpbind/httpbind/xmppstream"
	"github.com/httpbind/httpbind/xmppstream/memcore"
	"github.com/httpbind/httpbind/xmppstream/xmpptest"
)

// TestDigestMD5StoredCredential logs in with DIGEST-MD5 (RFC 2831) over
// HTTP against a core that keeps the DIGEST-MD5 credential and no plain
// password (Config.DigestMD5 without KeepPasswords): the credential
// AddUser computed is what the Server checks the response with.
func TestDigestMD5StoredCredential(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := xmpptest.NewServer(xmpptest.Config{Core: &memcore.Config{DigestMD5: true}, Stream: xmppstream.ServerConfig{Mechanisms: []string{xmppstream.MechDigestMD5}}})
	require.NoError(t, err)
	defer srv.Close()
	require.NoError(t, srv.Core.AddUser("Juliet", "r0m30"))
	creds, err := srv.Core.Credentials(ctx, "localhost", "juliet")
	require.NoError(t, err)
	require.Empty(t, creds.Password, "no plain password")
	require.NotEmpty(t, creds.DigestMD5)

	c := boshtest.NewClient(srv.URL, boshtest.ClientConfig{})
	defer c.Close()
	require.NoError(t, c.Connect(ctx, "localhost"))
	features, err := c.Receive(ctx)
	require.NoError(t, err)
	assert.Contains(t, string(features), "<mechanism>DIGEST-MD5</mechanism>")

	var el struct {
		XMLName xml.Name
		Text    string `xml:",chardata"`
	}
	client := &digestmd5.Client{Username: "juliet", Password: "r0m30", Domain: "localhost"}
	require.NoError(t, c.Send(ctx, []byte("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='DIGEST-MD5'/>")))
	for range 3 {
		raw, err := c.Receive(ctx)
		require.NoError(t, err)
		require.NoError(t, xml.Unmarshal(raw, &el))
		if el.XMLName.Local != "challenge" {
			break
		}
		data, err := base64.StdEncoding.DecodeString(el.Text)
		require.NoError(t, err)
		resp, err := client.Step(data)
		require.NoError(t, err)
		require.NoError(t, c.Send(ctx, []byte("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"+base64.StdEncoding.EncodeToString(resp)+"</response>")))
	}
	assert.Equal(t, "success", el.XMLName.Local)
}

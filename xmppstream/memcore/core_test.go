package memcore

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/xmppstream"
)

func TestNewConfig(t *testing.T) {
	assert.Equal(t, "localhost", mustNew(t, Config{}).Domain(), "default domain")
	assert.Equal(t, "example.com", mustNew(t, Config{Domain: "Example.COM."}).Domain(), "prepared like a JID domainpart (RFC 7622 §3.2)")
	_, err := New(Config{Domain: "a b"})
	assert.ErrorContains(t, err, "Config.Domain", "invalid domain")
	_, err = New(Config{Policy: 7})
	assert.ErrorContains(t, err, "Config.Policy", "unknown policy")
}

func TestAddUser(t *testing.T) {
	tests := []struct {
		name, user, password string
		want                 error
		anyErr               bool
	}{
		{name: "plain name", user: "dave", password: "x"},
		{name: "case-mapped (RFC 7622 §3.3)", user: "Eve", password: "x"},
		{name: "taken", user: "alice", password: "x", want: ErrUserExists},
		{name: "taken after case mapping", user: "ALICE", password: "x", want: ErrUserExists},
		{name: "not a localpart", user: "a@b", password: "x", want: xmppstream.ErrJID},
		{name: "empty name", user: "", password: "x", want: xmppstream.ErrJID},
		{name: "empty password", user: "frank", password: "", anyErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustNew(t, Config{Domain: "example.com"})
			require.NoError(t, c.AddUser("alice", "pw"))
			err := c.AddUser(tt.user, tt.password)
			switch {
			case tt.anyErr:
				assert.Error(t, err)
			case tt.want != nil:
				assert.ErrorIs(t, err, tt.want)
			default:
				assert.NoError(t, err)
			}
		})
	}
	c := mustNew(t, Config{Domain: "example.com"})
	for _, u := range []string{"zoe", "Bob", "alice"} {
		require.NoError(t, c.AddUser(u, "pw"))
	}
	assert.Equal(t, []string{"alice", "bob", "zoe"}, c.Users(), "prepared and sorted")
}

func TestCredentials(t *testing.T) {
	c := newCore(t, Config{})
	ctx := context.Background()
	creds, err := c.Credentials(ctx, "example.com", "alice")
	require.NoError(t, err)
	assert.Empty(t, creds.Password, "no plain password by default")
	assert.Nil(t, creds.DigestMD5, "no DIGEST-MD5 credential by default")
	for mech, fn := range map[string]func() hash.Hash{"SCRAM-SHA-1": sha1.New, "SCRAM-SHA-256": sha256.New} {
		sp, ok := creds.Salted[mech]
		require.True(t, ok, mech)
		assert.Equal(t, 4096, sp.Iterations, mech)
		assert.Len(t, sp.Salt, saltSize, mech)
		assert.Equal(t, hi(fn, "pw-alice", sp.Salt, 4096), sp.Hash, mech)
	}
	bob, err := c.Credentials(ctx, "EXAMPLE.com", "bob")
	require.NoError(t, err, "domain compared prepared")
	assert.NotEqual(t, creds.Salted["SCRAM-SHA-1"].Salt, bob.Salted["SCRAM-SHA-1"].Salt, "a salt per account")

	creds.Salted["SCRAM-SHA-1"].Hash[0] ^= 0xff
	again, err := c.Credentials(ctx, "example.com", "alice")
	require.NoError(t, err)
	assert.NotEqual(t, creds.Salted["SCRAM-SHA-1"].Hash, again.Salted["SCRAM-SHA-1"].Hash, "callers get a copy")

	_, err = c.Credentials(ctx, "example.com", "nobody")
	assert.ErrorIs(t, err, xmppstream.ErrNoAccount)
	_, err = c.Credentials(ctx, "example.org", "alice")
	assert.ErrorIs(t, err, xmppstream.ErrNoAccount, "another domain")
}

// TestCredentialsKept: Config.DigestMD5 keeps the DIGEST-MD5 credential
// (RFC 2831 §2.1.2.1) and Config.KeepPasswords the password itself, each
// only when asked for.
func TestCredentialsKept(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name          string
		cfg           Config
		digest, plain bool
	}{
		{"DIGEST-MD5 credential", Config{DigestMD5: true}, true, false},
		{"plain password", Config{KeepPasswords: true}, false, true},
		{"both", Config{DigestMD5: true, KeepPasswords: true}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCore(t, tc.cfg)
			require.NoError(t, c.AddUser("Dave", "pw-dave"))
			creds, err := c.Credentials(ctx, "example.com", "dave")
			require.NoError(t, err)
			assert.Len(t, creds.Salted, 2, "SCRAM always")
			if tc.digest {
				assert.Equal(t, xmppstream.DigestMD5Credential("dave", "example.com", "pw-dave"), creds.DigestMD5, "for the prepared name")
				creds.DigestMD5[0] ^= 0xff
				again, err := c.Credentials(ctx, "example.com", "dave")
				require.NoError(t, err)
				assert.NotEqual(t, creds.DigestMD5, again.DigestMD5, "callers get a copy")
			} else {
				assert.Nil(t, creds.DigestMD5)
			}
			if tc.plain {
				assert.Equal(t, "pw-dave", creds.Password)
			} else {
				assert.Empty(t, creds.Password)
			}
		})
	}
}

// TestSaltedPasswordVectors checks hi against the SCRAM examples of RFC
// 5802 §5 and RFC 7677 §3: the salted password must give the published
// client proof and server signature.
func TestSaltedPasswordVectors(t *testing.T) {
	tests := []struct {
		name                         string
		fn                           func() hash.Hash
		salt, authMessage, proof, sv string
	}{
		{
			name:        "SCRAM-SHA-1 (RFC 5802 §5)",
			fn:          sha1.New,
			salt:        "QSXCR+Q6sek8bf92",
			authMessage: "n=user,r=fyko+d2lbbFgONRv9qkxdawL,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096,c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j",
			proof:       "v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
			sv:          "rmF9pqV8S7suAoZWja4dJRkFsKQ=",
		},
		{
			name:        "SCRAM-SHA-256 (RFC 7677 §3)",
			fn:          sha256.New,
			salt:        "W22ZaJ0SNY7soEsUEjb6gQ==",
			authMessage: "n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
			proof:       "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
			sv:          "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			salt, err := base64.StdEncoding.DecodeString(tt.salt)
			require.NoError(t, err)
			sp := hi(tt.fn, "pencil", salt, 4096)
			mac := func(key []byte, s string) []byte {
				m := hmac.New(tt.fn, key)
				m.Write([]byte(s))
				return m.Sum(nil)
			}
			clientKey := mac(sp, "Client Key")
			h := tt.fn()
			h.Write(clientKey)
			sig := mac(h.Sum(nil), tt.authMessage)
			proof := make([]byte, len(clientKey))
			for i := range proof {
				proof[i] = clientKey[i] ^ sig[i]
			}
			assert.Equal(t, tt.proof, base64.StdEncoding.EncodeToString(proof), "ClientProof")
			assert.Equal(t, tt.sv, base64.StdEncoding.EncodeToString(mac(mac(sp, "Server Key"), tt.authMessage)), "ServerSignature")
		})
	}
}

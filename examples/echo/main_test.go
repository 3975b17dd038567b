package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEchoServesAndShutsDown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, []string{"-listen", "127.0.0.1:0"}, pw) }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err)
	url := strings.TrimSpace(line[strings.Index(line, "http://"):])

	post := func(body string) string {
		req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Origin", "https://page.example")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		assert.Equal(t, "*", res.Header.Get("Access-Control-Allow-Origin"))
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return string(b)
	}
	created := post(`<body rid='1' to='example.com' wait='5' hold='1' ver='1.11' xmlns='http://jabber.org/protocol/httpbind'/>`)
	_, sid, ok := strings.Cut(created, "sid='")
	require.True(t, ok, created)
	sid = sid[:strings.IndexByte(sid, '\'')]
	got := post(`<body rid='2' sid='` + sid + `' xmlns='http://jabber.org/protocol/httpbind'><message xmlns='jabber:client'><body>echo?</body></message></body>`)
	assert.Equal(t, `<body xmlns='http://jabber.org/protocol/httpbind'><message xmlns='jabber:client'><body>echo?</body></message></body>`, got)

	cancel()
	require.NoError(t, <-errc)
}

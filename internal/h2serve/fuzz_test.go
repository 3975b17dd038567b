package h2serve

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// fuzzHandler echoes, or detaches the stream on /detach and answers it
// from another goroutine.
var fuzzHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/detach" {
		echo(w, r)
		return
	}
	io.ReadAll(r.Body)
	if s := Detach(w, func() {}); s != nil {
		go func() {
			if s.Claim() {
				s.Respond(http.StatusOK, http.Header{}, []byte("<body/>"))
			}
		}()
	}
})

// seedFrames are a valid connection's frames after the preface: SETTINGS,
// a POST with a body on /detach, a GET, PING, WINDOW_UPDATE, RST_STREAM.
func seedFrames() []byte {
	var buf, hb bytes.Buffer
	fr := http2.NewFramer(&buf, nil)
	enc := hpack.NewEncoder(&hb)
	fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 10})
	for _, f := range []hpack.HeaderField{{Name: ":method", Value: "POST"}, {Name: ":scheme", Value: "http"},
		{Name: ":path", Value: "/detach"}, {Name: ":authority", Value: "x"}, {Name: "content-length", Value: "7"}} {
		enc.WriteField(f)
	}
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndHeaders: true})
	fr.WriteData(1, true, []byte("<body/>"))
	hb.Reset()
	for _, f := range []hpack.HeaderField{{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "http"},
		{Name: ":path", Value: "/"}, {Name: "cookie", Value: "a=b"}} {
		enc.WriteField(f)
	}
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: hb.Bytes(), EndHeaders: true, EndStream: true})
	fr.WritePing(false, [8]byte{1})
	fr.WriteWindowUpdate(0, 100)
	fr.WriteWindowUpdate(1, 100)
	fr.WriteRSTStream(3, http2.ErrCodeCancel)
	return buf.Bytes()
}

// FuzzServeConn feeds arbitrary frames to a connection: it must neither
// panic nor hang, and ServeConn must return once the client closes.
func FuzzServeConn(f *testing.F) {
	f.Add(seedFrames())
	f.Add([]byte{})
	f.Add(seedFrames()[:40])
	f.Fuzz(func(t *testing.T, in []byte) {
		cli, srvc := net.Pipe()
		s := &Server{ErrorLog: discardLog(), MaxConcurrentStreams: 4}
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.ServeConn(context.Background(), srvc, fuzzHandler, false)
		}()
		go io.Copy(io.Discard, cli)
		cli.SetWriteDeadline(time.Now().Add(2 * time.Second))
		io.WriteString(cli, http2.ClientPreface)
		cli.Write(in)
		cli.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("ServeConn did not return after the client closed")
		}
	})
}

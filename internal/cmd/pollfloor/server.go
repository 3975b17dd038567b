package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// server is the bare long-poll echo: one buffered channel per client id.
type server struct {
	wait  time.Duration
	mu    sync.Mutex
	boxes map[int]chan []byte // guarded by mu
}

func newServer(wait time.Duration) *server {
	return &server{wait: wait, boxes: make(map[int]chan []byte)}
}

// box returns client id's channel, made on first use.
func (s *server) box(id int) chan []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.boxes[id]
	if b == nil {
		b = make(chan []byte, 64)
		s.boxes[id] = b
	}
	return b
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/poll":
		id, err := strconv.Atoi(r.URL.Query().Get("id"))
		if err != nil {
			http.Error(w, "bad id", http.StatusBadRequest)
			return
		}
		t := time.NewTimer(s.wait)
		defer t.Stop()
		select {
		case msg := <-s.box(id):
			w.Header().Set("Content-Length", strconv.Itoa(len(msg)))
			w.Write(msg)
		case <-t.C:
			w.WriteHeader(http.StatusNoContent)
		case <-r.Context().Done():
		}
	case "/send":
		id, err := strconv.Atoi(r.URL.Query().Get("to"))
		if err != nil || r.Method != http.MethodPost {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		msg, err := io.ReadAll(io.LimitReader(r.Body, 4096))
		if err != nil {
			return
		}
		select {
		case s.box(id) <- msg:
			w.WriteHeader(http.StatusNoContent)
		default:
			http.Error(w, "box full", http.StatusServiceUnavailable)
		}
	default:
		http.NotFound(w, r)
	}
}

// serveCmd: pollfloor serve -listen ADDR -wait D.
func serveCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pollfloor serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:5300", "`address` to listen on (loopback)")
	wait := fs.Duration("wait", 30*time.Second, "how long a poll is held at most")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: newServer(*wait), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "pollfloor: serving http://%s\n", ln.Addr())
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

package h2serve

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// A reader reads a connection for the framer through a pooled buffer that
// it holds only while it has bytes not yet read: a connection waiting for
// its client's next frame holds none. Where the connection has a file
// descriptor, it waits for bytes without a buffer (syscall.RawConn);
// otherwise it holds the buffer while it waits.
type reader struct {
	nc   net.Conn
	rc   syscall.RawConn // nil: nc.Read
	buf  *[]byte         // from readPool while bytes are left in it
	r, w int
}

// readPool holds the readers' buffers.
var readPool = sync.Pool{New: func() any { b := make([]byte, 4096); return &b }}

func newReader(nc net.Conn) *reader {
	rd := &reader{nc: nc}
	if sc, ok := nc.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil && rawReads {
			rd.rc = rc
		}
	}
	return rd
}

func (rd *reader) Read(p []byte) (int, error) {
	if rd.buf == nil {
		if err := rd.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, (*rd.buf)[rd.r:rd.w])
	rd.r += n
	if rd.r == rd.w {
		readPool.Put(rd.buf)
		rd.buf = nil
	}
	return n, nil
}

// quiet reports whether the client has sent nothing for d, waiting on
// this goroutine; bytes that come meanwhile are kept for the next Read.
func (rd *reader) quiet(d time.Duration) bool {
	if rd.rc == nil || rd.buf != nil {
		return false
	}
	rd.nc.SetReadDeadline(time.Now().Add(d))
	err := rd.fill()
	rd.nc.SetReadDeadline(time.Time{})
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// fill reads what the connection has into a pooled buffer.
func (rd *reader) fill() error {
	var b *[]byte
	var n int
	var err error
	if rd.rc == nil {
		b = readPool.Get().(*[]byte)
		n, err = rd.nc.Read(*b)
	} else {
		b, n, err = rd.rawRead()
	}
	if n <= 0 {
		if b != nil {
			readPool.Put(b)
		}
		if err == nil {
			err = io.EOF
		}
		return err
	}
	rd.buf, rd.r, rd.w = b, 0, n // an error with bytes comes again on the next fill
	return nil
}

// rawRead reads into a pooled buffer once the descriptor is readable,
// holding no buffer while it waits.
func (rd *reader) rawRead() (b *[]byte, n int, err error) {
	rerr := rd.rc.Read(func(fd uintptr) bool {
		b = readPool.Get().(*[]byte)
		n, err = readFD(fd, *b)
		if wouldBlock(err) {
			readPool.Put(b)
			b = nil
			return false // wait for bytes
		}
		return true
	})
	if rerr != nil {
		return b, 0, rerr
	}
	return b, n, err
}

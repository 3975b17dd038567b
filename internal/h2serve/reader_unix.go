//go:build unix

package h2serve

import (
	"errors"
	"syscall"
)

// rawReads says that reader may read a descriptor itself.
const rawReads = true

// readFD reads fd once, retrying an interrupted read.
func readFD(fd uintptr, p []byte) (int, error) {
	for {
		n, err := syscall.Read(int(fd), p)
		if !errors.Is(err, syscall.EINTR) {
			return n, err
		}
	}
}

// wouldBlock reports whether a read found no bytes yet.
func wouldBlock(err error) bool { return errors.Is(err, syscall.EAGAIN) }

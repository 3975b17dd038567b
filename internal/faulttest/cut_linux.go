package faulttest

import (
	"net"
	"syscall"
	"unsafe"
)

// siocoutq is Linux's SIOCOUTQ (TIOCOUTQ): the bytes in a TCP socket's
// send queue that the peer has not acknowledged yet.
const siocoutq = 0x5411

// unacked returns how many bytes written on conn the peer has not
// acknowledged.
func unacked(conn net.Conn) (int, error) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return 0, nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int32
	var serr syscall.Errno
	err = raw.Control(func(fd uintptr) {
		_, _, serr = syscall.Syscall(syscall.SYS_IOCTL, fd, siocoutq, uintptr(unsafe.Pointer(&n)))
	})
	if err != nil {
		return 0, err
	}
	if serr != 0 {
		return 0, serr
	}
	return int(n), nil
}

package ejabberdtest

import "syscall"

// sysProcAttr kills the node when the test process dies, so that an
// interrupted test run leaves no server behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

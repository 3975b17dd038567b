package prosodytest

import "syscall"

// sysProcAttr kills Prosody when the test process dies, so that an
// interrupted test run leaves no server behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

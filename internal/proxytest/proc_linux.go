package proxytest

import (
	"os"
	"syscall"
)

// sysProcAttr puts the proxy in its own process group, so that its
// workers can be stopped with it, and kills it when the test process
// dies, so that an interrupted run leaves no proxy behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup kills the process group that p leads (sysProcAttr made it).
func killGroup(p *os.Process) { syscall.Kill(-p.Pid, syscall.SIGKILL) }

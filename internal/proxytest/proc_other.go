//go:build !linux

package proxytest

import (
	"os"
	"syscall"
)

func sysProcAttr() *syscall.SysProcAttr { return nil }

// killGroup kills p; without process groups its workers are on their own.
func killGroup(p *os.Process) { p.Kill() }

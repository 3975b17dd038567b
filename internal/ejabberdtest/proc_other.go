//go:build !linux

package ejabberdtest

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }

//go:build !linux

package prosodytest

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }

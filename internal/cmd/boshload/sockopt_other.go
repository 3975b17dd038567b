//go:build !linux

package main

import "syscall"

// control does nothing outside Linux.
func control(network, address string, c syscall.RawConn) error { return nil }

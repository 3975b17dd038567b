package main

import (
	"syscall"
)

// ipBindAddressNoPort is IP_BIND_ADDRESS_NO_PORT (linux/in.h): with a
// source address set, the kernel picks the port at connect time, by the
// whole 4-tuple, instead of at bind time, so that each source address
// offers the full ephemeral range toward the server.
const ipBindAddressNoPort = 24

// control sets IP_BIND_ADDRESS_NO_PORT on every outgoing socket.
func control(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
	})
	if err != nil {
		return err
	}
	if network == "tcp6" {
		return nil // the option is IPv4's; an IPv6 socket ignores a failure
	}
	return serr
}

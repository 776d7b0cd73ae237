//go:build !unix

package main

import "net"

func idleQuiet(c net.Conn) bool { return idleQuietByDeadline(c) }

//go:build unix

package main

import (
	"net"
	"syscall"
)

// idleQuiet says whether nothing came on an idle connection: no bytes, no
// end. It peeks without waiting: one system call, no timer.
func idleQuiet(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return idleQuietByDeadline(c)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	quiet := false
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		_, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		quiet = rerr == syscall.EAGAIN || rerr == syscall.EWOULDBLOCK
		return true // never wait for data: its absence is the answer
	})
	return err == nil && quiet
}

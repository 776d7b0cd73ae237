package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"syscall"
)

// hostLock takes a lock named after key for the whole host: an abstract
// unix socket, which one process at a time may bind, any user may, and
// the kernel frees when the process dies (no file to leave behind, no
// permissions to get wrong between a root daemon and a user's one-shot).
// ok false with a non-nil unlock means another holds it; with a nil one,
// the system has no such lock.
func hostLock(key string) (unlock func(), ok bool) {
	sum := sha256.Sum256([]byte("smsgate login\x00" + key))
	l, err := net.Listen("unix", "@smsgate-login-"+hex.EncodeToString(sum[:12]))
	if err == nil {
		return func() { l.Close() }, true
	}
	if errors.Is(err, syscall.EADDRINUSE) {
		return func() {}, false
	}
	return nil, false
}

// hostLockTaken says whether hostLock failed because another holds it.
func hostLockTaken(unlock func()) bool { return unlock != nil }

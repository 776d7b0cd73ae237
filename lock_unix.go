//go:build linux || darwin

package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// lockPath takes flock(LOCK_EX|LOCK_NB) on path, made in dir if need be,
// and writes this process's PID in it. When another holds it, it returns
// errStateDirHeld and the PID written there (0 if unreadable).
func lockPath(dir, path string) (*stateDirLock, int, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, 0, fmt.Errorf("state dir: %w", err)
	}
	// Non-blocking, no symlink: a FIFO put there must not hang the start.
	flags := syscall.O_NONBLOCK | syscall.O_NOFOLLOW | syscall.O_CLOEXEC
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|flags, 0o600)
	writable := err == nil
	if err != nil {
		// A read-only directory with the file already there: a read-only
		// descriptor can be locked too.
		if f, err = os.OpenFile(path, os.O_RDONLY|flags, 0); err != nil {
			return nil, 0, fmt.Errorf("open lock file: %w", err)
		}
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("lock file %s: not a regular file", path)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			b := make([]byte, 32)
			n, _ := f.ReadAt(b, 0)
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b[:n])))
			return nil, pid, errStateDirHeld
		}
		return nil, 0, fmt.Errorf("flock %s: %w", path, err)
	}
	if writable {
		// Best effort: the PID only makes the second daemon's message
		// better; the lock is what protects.
		if f.Truncate(0) == nil {
			f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
			f.Sync()
		}
	}
	return &stateDirLock{f: f}, 0, nil
}

// mayWriteDir reports whether path is a directory this process may
// create files in, without creating one: access(2) also says EROFS for a
// read-only mount.
func mayWriteDir(path string) bool {
	return dirExists(path) && unix.Access(path, unix.W_OK) == nil
}

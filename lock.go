package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
)

// Two daemons on one -state-dir would both decide on the same messages and
// run commands twice (an operator's mistake: the service plus a copy
// started by hand). The daemon holds an exclusive lock on a file in its
// state directory for its lifetime; the kernel drops it when the process
// dies, so a SIGKILL or a power cut never leaves a stale lock. The lock file
// holds the holder's PID, for the second daemon's message. One-shots
// (status, list, send) do not decide on messages and take no lock.

const lockFile = "lock"

// errStateDirHeld: another process holds the state directory.
var errStateDirHeld = errors.New("held by another smsgate")

// stateDirLock is the lock held on a state directory; nil holds nothing.
type stateDirLock struct{ f *os.File }

// Release gives the lock back (the kernel does it anyway when the process
// ends).
func (l *stateDirLock) Release() {
	if l != nil && l.f != nil {
		l.f.Close()
	}
}

// holdStateDir takes the lock on dir for the daemon. When another daemon
// holds it, the error wraps errStateDirHeld and names its PID: the caller
// exits with the status that says "do not restart". When the lock cannot be
// taken at all (a read-only or full directory, a system without flock), it
// says so loudly and runs without it, as with the state file itself: a
// daemon that serves from memory is better than none.
func holdStateDir(dir string, log *slog.Logger) (*stateDirLock, error) {
	if dir == "" {
		return nil, nil
	}
	path := filepath.Join(dir, lockFile)
	l, pid, err := lockPath(dir, path)
	switch {
	case errors.Is(err, errStateDirHeld):
		holder := "another process"
		if pid > 0 {
			holder = fmt.Sprintf("pid %d", pid)
		}
		return nil, fmt.Errorf("-state-dir %s is %w (%s): a second daemon would run commands twice; stop it first, or give this one another -state-dir",
			dir, errStateDirHeld, holder)
	case err != nil:
		log.Error("state: cannot lock the state directory; running WITHOUT protection against a second smsgate on it",
			"path", path, "err", err)
		return nil, nil
	}
	return l, nil
}

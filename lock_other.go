//go:build !(linux || darwin)

package main

import (
	"fmt"
	"os"
)

// lockPath: no flock here (Windows). The daemon says so and runs without
// the protection; the lock matters on the Pi.
func lockPath(dir, path string) (*stateDirLock, int, error) {
	return nil, 0, fmt.Errorf("no flock on this system: %w", os.ErrNotExist)
}

// mayWriteDir: without access(2) here, a directory is taken for writable;
// the daemon says so when it cannot write there.
func mayWriteDir(path string) bool { return dirExists(path) }

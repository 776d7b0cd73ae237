//go:build !linux

package main

import (
	"fmt"
	"os"
	"runtime"
)

// openLIRC fails where there is no LIRC: an error wrapping os.ErrNotExist.
func openLIRC(path string) (*lircTX, error) {
	return nil, fmt.Errorf("open ir device %s: LIRC on %s: %w", path, runtime.GOOS, os.ErrNotExist)
}

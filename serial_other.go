//go:build !linux

package main

import (
	"fmt"
	"os"
)

// openSerial: the AT family runs on Linux (the Pi); elsewhere it says so.
func openSerial(path string, baud int) (*os.File, error) {
	return nil, fmt.Errorf("serial %s: %w on this system", path, errUnsupported)
}

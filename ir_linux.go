package main

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// lircFile is /dev/lircN itself.
type lircFile struct{ *os.File }

func (f lircFile) Features() (uint32, error) {
	return unix.IoctlGetUint32(int(f.Fd()), lircGetFeatures)
}

func (f lircFile) SetU32(req uint, v uint32) error {
	return unix.IoctlSetPointerInt(int(f.Fd()), req, int(v))
}

// openLIRC opens a kernel LIRC transmitter (/dev/lirc0).
func openLIRC(path string) (*lircTX, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open ir device: %w", err)
	}
	tx, err := newLIRCTX(lircFile{f})
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return tx, nil
}

//go:build linux && !nosim

package main

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// simPTY is a pseudo-terminal pair made by the AT simulator: it plays the
// module on the master; the client opens the slave's path as its serial
// device. The simulator keeps a slave descriptor of its own so that the
// master does not see a hang-up between two client opens, and sets the
// slave raw itself so that nothing it writes before the client opens is
// echoed back to it by the tty layer.
type simPTY struct {
	master *os.File
	slave  int
	path   string
}

func openSimPTY() (*simPTY, error) {
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("sim pty: open /dev/ptmx: %w", err)
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("sim pty: unlock: %w", err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("sim pty: number: %w", err)
	}
	path := fmt.Sprintf("/dev/pts/%d", n)
	sfd, err := unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("sim pty: open %s: %w", path, err)
	}
	if t, err := unix.IoctlGetTermios(sfd, unix.TCGETS); err == nil {
		t.Iflag = 0
		t.Oflag = 0
		t.Lflag = 0
		t.Cflag = unix.CS8 | unix.CREAD | unix.CLOCAL | unix.B115200
		t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
		_ = unix.IoctlSetTermios(sfd, unix.TCSETS, t)
	}
	return &simPTY{master: os.NewFile(uintptr(fd), "/dev/ptmx"), slave: sfd, path: path}, nil
}

func (p *simPTY) close() {
	p.master.Close()
	unix.Close(p.slave)
}

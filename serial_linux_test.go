//go:build linux && !nosim

package main

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openSerial leaves the line raw: no echo, no line editing, CR and LF as
// sent, 8N1 at the asked speed.
func TestOpenSerialRaw(t *testing.T) {
	p, err := openSimPTY()
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	// As a terminal starts: cooked, echoing, CR to LF.
	if tt, err := unix.IoctlGetTermios(p.slave, unix.TCGETS); err == nil {
		tt.Lflag |= unix.ICANON | unix.ECHO
		tt.Iflag |= unix.ICRNL
		tt.Oflag |= unix.OPOST | unix.ONLCR
		unix.IoctlSetTermios(p.slave, unix.TCSETS, tt)
	}
	f, err := openSerial(p.path, 9600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tt, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if tt.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG) != 0 || tt.Iflag&(unix.ICRNL|unix.IXON) != 0 || tt.Oflag&unix.OPOST != 0 ||
		tt.Cflag&unix.CSIZE != unix.CS8 || tt.Cflag&unix.CBAUD != unix.B9600 || tt.Cflag&unix.CLOCAL == 0 {
		t.Fatalf("not raw: %+v", tt)
	}
	p.master.Write([]byte("OK\r\n"))
	f.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 16)
	n, err := f.Read(buf)
	if err != nil || string(buf[:n]) != "OK\r\n" {
		t.Fatalf("read %q %v, want the bytes as sent", buf[:n], err)
	}
	if _, err := openSerial(p.path, 12345); err == nil {
		t.Fatal("an unsupported speed accepted")
	}
	if _, err := openSerial("/nonexistent/modem", 115200); err == nil {
		t.Fatal("a missing device opened")
	}
}

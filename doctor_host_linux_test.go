package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Opening a watchdog device arms it: a doctor run that opened it would
// reset the board a few seconds later. The device here is a fresh device
// node (of /dev/null), watched by inotify for any open.
func TestDoctorNeverOpensTheWatchdog(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: making a device node needs root")
	}
	dev := filepath.Join(t.TempDir(), "watchdog")
	if err := unix.Mknod(dev, unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3))); err != nil {
		t.Skipf("SKIPPED: mknod: %v", err)
	}
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if _, err := unix.InotifyAddWatch(fd, dev, unix.IN_OPEN|unix.IN_ACCESS|unix.IN_MODIFY); err != nil {
		t.Fatal(err)
	}
	d, out := hostDoctor(t)
	d.cfg.watchdog = dev
	fakeWatchdogSysfs(t, d.host.sysRoot, nil)
	d.checkWatchdog()
	if l := line(out.String(), "watchdog"); !strings.HasPrefix(l, "ok") {
		t.Fatalf("watchdog line %q", out.String())
	}
	buf := make([]byte, 4096)
	if n, err := unix.Read(fd, buf); n > 0 {
		t.Errorf("doctor opened the watchdog device (%d bytes of inotify events)", n)
	} else if err != unix.EAGAIN {
		t.Fatalf("inotify read: %v", err)
	}
	// The watch works: an open is seen.
	f, err := os.Open(dev)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if n, _ := unix.Read(fd, buf); n <= 0 {
		t.Error("inotify saw no open: the test proves nothing")
	}
}

// The Pi's own LED, through the real sysfs code: lit once, then given back
// to its kernel trigger.
func TestDoctorBlinksTheOnboardLEDAndGivesItBack(t *testing.T) {
	read := fakeOnboardLED(t)

	d, out := hostDoctor(t)
	d.cfg.led = "ACT"
	d.host.openLED = openLEDOutput
	lit := make(chan string, 1)
	d.host.sleep = func(time.Duration) { lit <- read("brightness") }
	d.checkLED()
	if l := line(out.String(), "led"); !strings.HasPrefix(l, "ok") {
		t.Errorf("led line %q", l)
	}
	if b := <-lit; b != "255" {
		t.Errorf("brightness %q while lit, want 255", b)
	}
	if read("trigger") != "mmc0" || read("brightness") != "0" {
		t.Errorf("after doctor: trigger %q brightness %q, want mmc0 and 0", read("trigger"), read("brightness"))
	}
}

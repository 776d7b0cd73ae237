package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeOnboardLED makes a sysfs LED directory like the Pi's ACT LED (led0
// on this kernel) and points ledsDir at it. It returns a reader of the
// LED's files.
func fakeOnboardLED(t *testing.T) func(file string) string {
	t.Helper()
	dir := t.TempDir()
	act := filepath.Join(dir, "led0")
	os.Mkdir(act, 0o755)
	os.WriteFile(filepath.Join(act, "trigger"), []byte("none [mmc0] timer heartbeat\n"), 0o644)
	os.WriteFile(filepath.Join(act, "max_brightness"), []byte("255\n"), 0o644)
	os.WriteFile(filepath.Join(act, "brightness"), []byte("0\n"), 0o644)
	old := ledsDir
	ledsDir = dir
	t.Cleanup(func() { ledsDir = old })
	return func(f string) string {
		b, _ := os.ReadFile(filepath.Join(act, f))
		return strings.TrimSpace(string(b))
	}
}

// A configuration error must leave the onboard LED to the kernel: with the
// flags checked before anything is opened, the LED is never taken.
func TestConfigErrorGivesTheLEDBack(t *testing.T) {
	for _, args := range [][]string{
		{"-led=ACT", "-ir=/dev/lirc0"}, // no -ir-code
		{"-led=ACT", "-reboot-mode=never"},
		{"-led=ACT", "-ir=/dev/lirc0", "-ir-code=tv=nope:1"},
	} {
		read := fakeOnboardLED(t)
		var out bytes.Buffer
		err := run(append([]string{"run", "-allow=+21612345678", "-watchdog="}, args...), nil, &out, &out)
		if code := exitCode(err); code != 125 {
			t.Errorf("%v: exit %d (%v), want 125", args, code, err)
		}
		if got := read("trigger"); got != "none [mmc0] timer heartbeat" {
			t.Errorf("%v: trigger %q after a configuration error; the kernel's mmc0 is lost", args, got)
		}
	}
}

// The hardware is given back however serve ends: a stop by signal, or a
// reboot (which releases the pins first, then the stop releases nothing
// twice).
func TestHardwareGivenBackOnEveryWayOut(t *testing.T) {
	read := fakeOnboardLED(t)
	notWatchdog := filepath.Join(t.TempDir(), "watchdog")
	os.WriteFile(notWatchdog, nil, 0o644)
	cfg := validFlags(t, "-allow", owner, "-led", "ACT", "-ir", "/nonexistent/lirc0", "-ir-code", "tv=nec:0x0408",
		"-watchdog", notWatchdog)
	var logs lockedBuffer
	h := &hardware{log: slog.New(slog.NewTextHandler(&logs, nil))}
	h.open(cfg) // the IR and the watchdog fail after the LED was taken
	if got := read("trigger"); got != "none" {
		t.Fatalf("trigger %q while smsgate holds the LED", got)
	}
	h.releasePins() // before a reboot
	if got := read("trigger"); got != "mmc0" {
		t.Errorf("trigger %q after the pins were released", got)
	}
	h.Close()
	h.Close()
	if n := strings.Count(logs.String(), "releasing pins"); n != 0 {
		t.Errorf("released twice:\n%s", logs.String())
	}

	// Through serve: a stop by signal (ctx) gives the LED back.
	read = fakeOnboardLED(t)
	sim, _, _ := startSim(t, "mf920v", "pw", "pw")
	cfg = validFlags(t, "-modem", sim.URL, "-password", "pw", "-allow", owner, "-poll", "10ms", "-led", "ACT", "-watchdog", "")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- testApp(nil, nil).serve(ctx, cfg, slog.New(slog.DiscardHandler)) }()
	waitFor(t, "the LED taken", func() bool { return read("trigger") == "none" })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := read("trigger"); got != "mmc0" {
		t.Errorf("trigger %q after serve returned", got)
	}
}

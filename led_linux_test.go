package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestOnboardLEDTakenAndGivenBack(t *testing.T) {
	dir := t.TempDir()
	act := filepath.Join(dir, "led0")
	os.Mkdir(act, 0o755)
	os.WriteFile(filepath.Join(act, "trigger"), []byte("none [mmc0] timer heartbeat\n"), 0o644)
	os.WriteFile(filepath.Join(act, "max_brightness"), []byte("255\n"), 0o644)
	os.WriteFile(filepath.Join(act, "brightness"), []byte("0\n"), 0o644)
	old := ledsDir
	ledsDir = dir
	defer func() { ledsDir = old }()

	out, err := openLEDOutput("ACT", false) // the Pi's name; this kernel calls it led0
	if err != nil {
		t.Fatal(err)
	}
	read := func(f string) string {
		b, _ := os.ReadFile(filepath.Join(act, f))
		return string(b)
	}
	if read("trigger") != "none" {
		t.Errorf("trigger %q, want none while smsgate drives it", read("trigger"))
	}
	out.Set(true)
	if read("brightness") != "255" {
		t.Errorf("brightness %q", read("brightness"))
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	if read("trigger") != "mmc0" || read("brightness") != "0" {
		t.Errorf("after exit: trigger %q brightness %q", read("trigger"), read("brightness"))
	}
}

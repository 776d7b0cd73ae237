package main

import (
	"testing"
)

func TestOnboardLEDTakenAndGivenBack(t *testing.T) {
	read := fakeOnboardLED(t)

	out, err := openLEDOutput("ACT", false) // the Pi's name; this kernel calls it led0
	if err != nil {
		t.Fatal(err)
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

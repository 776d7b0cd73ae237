package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ledsDir is where Linux lists LEDs; tests point it elsewhere.
var ledsDir = "/sys/class/leds"

// sysfsLED is an onboard LED (the Pi's ACT or PWR), taken from its kernel
// trigger for smsgate's use and given back on exit.
type sysfsLED struct {
	dir     string
	trigger string // to restore
	on      string // max_brightness
}

func openSysfsLED(dir string) (*sysfsLED, error) {
	b, err := os.ReadFile(filepath.Join(dir, "trigger"))
	if err != nil {
		return nil, fmt.Errorf("led %s: %w", dir, err)
	}
	trigger := "none"
	for _, f := range strings.Fields(string(b)) {
		if strings.HasPrefix(f, "[") && strings.HasSuffix(f, "]") {
			trigger = strings.Trim(f, "[]")
		}
	}
	maxB, err := os.ReadFile(filepath.Join(dir, "max_brightness"))
	on := strings.TrimSpace(string(maxB))
	if err != nil || on == "" || on == "0" {
		on = "1"
	}
	if err := os.WriteFile(filepath.Join(dir, "trigger"), []byte("none"), 0); err != nil {
		return nil, fmt.Errorf("led %s: take over from trigger %q: %w", dir, trigger, err)
	}
	return &sysfsLED{dir: dir, trigger: trigger, on: on}, nil
}

func (l *sysfsLED) Set(on bool) error {
	v := "0"
	if on {
		v = l.on
	}
	return os.WriteFile(filepath.Join(l.dir, "brightness"), []byte(v), 0)
}

func (l *sysfsLED) Close() error {
	l.Set(false)
	if err := os.WriteFile(filepath.Join(l.dir, "trigger"), []byte(l.trigger), 0); err != nil {
		return fmt.Errorf("led %s: give back trigger %q: %w", l.dir, l.trigger, err)
	}
	return nil
}

// onboardAliases are the Pi's LED names across kernel versions.
var onboardAliases = map[string][]string{
	"act": {"ACT", "led0"},
	"pwr": {"PWR", "led1"},
}

// openOnboardLED takes the kernel LED called name (or one of its
// aliases); an error wrapping os.ErrNotExist says there is none.
func openOnboardLED(name string) (ledOutput, error) {
	candidates := append([]string{name}, onboardAliases[strings.ToLower(name)]...)
	for _, c := range candidates {
		dir := filepath.Join(ledsDir, c)
		if _, err := os.Stat(filepath.Join(dir, "brightness")); err == nil {
			return openSysfsLED(dir)
		}
	}
	return nil, fmt.Errorf("no LED %q in %s: %w", name, ledsDir, os.ErrNotExist)
}

//go:build !linux

package main

import (
	"fmt"
	"os"
	"runtime"
)

// openOnboardLED: kernel LEDs are a Linux thing; -led then names a GPIO pin.
func openOnboardLED(name string) (ledOutput, error) {
	return nil, fmt.Errorf("onboard LED %s on %s: %w", name, runtime.GOOS, os.ErrNotExist)
}

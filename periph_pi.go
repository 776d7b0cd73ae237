//go:build !periph_all

package main

// The periph drivers a Raspberry Pi needs, and no other board's: host.Init
// would link every SoC periph knows (Allwinner, AM335x, ...), about 200 KB
// of the arm binary (BENCHMARKS.md). Build with -tags periph_all for them.
import (
	_ "periph.io/x/host/v3/bcm283x"   // the Pi's GPIO by memory, and the DMA stream -ir GPIO18 uses
	_ "periph.io/x/host/v3/gpioioctl" // any GPIO character device (gpiochip0:17)
	_ "periph.io/x/host/v3/rpi"       // header names: P1_11
	_ "periph.io/x/host/v3/sysfs"     // sysfs GPIO, LEDs and the rest periph registers there
)

package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio/gpiostream"
)

// hardware is what serve opened: the status LED, the IR transmitter and
// the watchdog. A part that cannot be opened is logged and left out:
// hardware trouble costs only the hardware, never the SMS gateway.
// Close gives back what was opened, on every way out of serve.
type hardware struct {
	log *slog.Logger

	ind       indicator     // nil: no LED
	ir        irTransmitter // nil: no -ir
	wd        watchdogDevice
	wdTimeout time.Duration // as the device applied it
	nowayout  bool

	pins        []func() error // LED and IR, in the order opened
	releaseOnce sync.Once
	closeOnce   sync.Once
}

// open opens what cfg names, appending each part's release as soon as it
// is open, so that Close gives back exactly what is held however far open
// got.
func (h *hardware) open(cfg validConfig) {
	if cfg.dryRun {
		h.ind = &logLED{log: h.log}
	} else if cfg.led != "" {
		if out, err := openLEDOutput(cfg.led, cfg.ledActiveLow); err != nil {
			h.log.Error("status LED unavailable; running without it", "err", err)
		} else {
			led := NewLED(out)
			ctx, stop := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- led.Run(ctx) }()
			h.pins = append(h.pins, func() error { stop(); return <-done })
			h.ind = led
		}
	}
	if cfg.ir != "" {
		tx, err := openIRTransmitter(cfg.ir, cfg.dryRun)
		if err != nil {
			h.log.Error("IR transmitter unavailable; ir commands will say so", "err", err)
			tx = brokenTX{err}
		}
		h.pins = append(h.pins, tx.Close)
		h.ir = tx
	}
	if cfg.dryRun || cfg.noReboot {
		// An armed watchdog resets the machine when smsgate stops feeding
		// it: -no-reboot leaves it closed too.
		h.log.Info("action", "action", "watchdog", "detail", "not opened", "dry_run", true)
		return
	}
	if wd, applied := openSupervisedWatchdog(cfg.watchdog.path, cfg.watchdog.timeout, h.log); wd != nil {
		h.wd, h.wdTimeout, h.nowayout = wd, applied, cfg.watchdog.nowayout
	}
}

// releasePins turns the LED off, gives an onboard LED back to its kernel
// trigger and closes the IR transmitter. The rebooter calls it before a
// reboot, Close on exit: once is enough.
func (h *hardware) releasePins() {
	h.releaseOnce.Do(func() {
		for _, r := range h.pins {
			if err := r(); err != nil {
				h.log.Warn("releasing pins", "err", err)
			}
		}
	})
}

// Close releases the pins, then stops the watchdog: disarmed with the
// magic close, or left armed with -watchdog-nowayout.
func (h *hardware) Close() error {
	var err error
	h.closeOnce.Do(func() {
		h.releasePins()
		switch {
		case h.wd == nil:
		case h.nowayout:
			if err = h.wd.LeaveArmed(); err == nil {
				h.log.Info("watchdog left armed on exit (-watchdog-nowayout)")
			}
		default:
			if err = h.wd.Disarm(); err == nil {
				h.log.Info("watchdog disarmed (magic close)")
			}
		}
		if err != nil {
			h.log.Error("watchdog", "err", err)
		}
	})
	return err
}

// openIRTransmitter opens -ir: a LIRC device path, or a periph pin that can
// stream.
func openIRTransmitter(name string, dryRun bool) (irTransmitter, error) {
	if dryRun {
		return nopTX{}, nil
	}
	if strings.HasPrefix(name, "/") {
		tx, err := openLIRC(name)
		if err != nil {
			return nil, err
		}
		return tx, nil
	}
	p, err := openPin(name)
	if err != nil {
		return nil, fmt.Errorf("-ir %s: %w", name, err)
	}
	sp, ok := p.(gpiostream.PinOut)
	if !ok {
		return nil, fmt.Errorf("-ir %s: this pin cannot stream a carrier; use GPIO0-31 on a Pi, or the gpio-ir-tx overlay and -ir /dev/lirc0", name)
	}
	return &gpioTX{pin: sp}, nil
}

// brokenTX stands in for a transmitter that could not be opened, so that
// an ir command answers why instead of nothing.
type brokenTX struct{ err error }

func (b brokenTX) Transmit(int, int, []uint32) error {
	return fmt.Errorf("transmitter unavailable: %w", b.err)
}
func (brokenTX) Close() error { return nil }

// nopTX is the transmitter of a dry run: the action line says what would
// have been sent.
type nopTX struct{}

func (nopTX) Transmit(int, int, []uint32) error { return nil }
func (nopTX) Close() error                      { return nil }

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"periph.io/x/conn/v3/driver/driverreg"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/host/v3/gpioioctl"
)

// ledStep is one part of a blink pattern.
type ledStep struct {
	on bool
	d  time.Duration
}

// ledPatterns are what a person reads at a glance; README has the table.
var ledPatterns = map[health][]ledStep{
	healthStarting:    {{false, time.Second}},
	healthOK:          {{true, time.Second}},
	healthNoData:      {{true, time.Second}, {false, time.Second}},
	healthUnreachable: {{true, 100 * time.Millisecond}, {false, 100 * time.Millisecond}},
	healthLogin: {{true, 150 * time.Millisecond}, {false, 150 * time.Millisecond},
		{true, 150 * time.Millisecond}, {false, 1050 * time.Millisecond}},
	healthBusy: {{true, 50 * time.Millisecond}, {false, 50 * time.Millisecond}, {true, 50 * time.Millisecond},
		{false, 50 * time.Millisecond}, {true, 50 * time.Millisecond}, {false, 50 * time.Millisecond},
		{true, 50 * time.Millisecond}, {false, 50 * time.Millisecond}, {true, 50 * time.Millisecond}, {false, 50 * time.Millisecond}},
	// Healing: three flashes, unlike any other state.
	healthHealing: {{true, 150 * time.Millisecond}, {false, 150 * time.Millisecond}, {true, 150 * time.Millisecond},
		{false, 150 * time.Millisecond}, {true, 150 * time.Millisecond}, {false, 1250 * time.Millisecond}},
}

// burstLength is how long the "command running" burst plays before the LED
// returns to the state underneath.
var burstLength = patternLength(ledPatterns[healthBusy])

func patternLength(p []ledStep) time.Duration {
	var t time.Duration
	for _, s := range p {
		t += s.d
	}
	return t
}

// ledLevel is whether pattern h lights the LED at elapsed time into it.
func ledLevel(h health, elapsed time.Duration) bool {
	on, _ := ledPhase(h, elapsed)
	return on
}

// ledPhase is whether pattern h lights the LED at elapsed time into it, and
// how long until its step ends.
func ledPhase(h health, elapsed time.Duration) (on bool, left time.Duration) {
	p := ledPatterns[h]
	t := elapsed % patternLength(p)
	for _, s := range p {
		if t < s.d {
			return s.on, s.d - t
		}
		t -= s.d
	}
	return false, p[0].d
}

// ledOutput is the light itself.
type ledOutput interface {
	Set(on bool) error
	Close() error
}

// LED plays the pattern of the gateway's health on an output.
type LED struct {
	out ledOutput
	// tick is the shortest wait between two looks at the pattern. Run
	// otherwise sleeps until the step ends or Show changes the pattern: a
	// steady LED costs no wakeups (BENCHMARKS.md).
	tick    time.Duration
	now     func() time.Time
	changed chan struct{} // Show's nudge to Run

	mu    sync.Mutex
	state health // what plays now
	base  health // what plays after a burst
	since time.Time
}

// NewLED drives out; call Run to make it blink.
func NewLED(out ledOutput) *LED {
	return &LED{out: out, tick: 10 * time.Millisecond, now: time.Now, since: time.Now(), changed: make(chan struct{}, 1)}
}

// Show switches the pattern; it takes effect at once. A burst (healthBusy)
// plays once, then the LED returns to the last other state.
func (l *LED) Show(h health) {
	defer func() {
		select {
		case l.changed <- struct{}{}:
		default:
		}
	}()
	l.mu.Lock()
	defer l.mu.Unlock()
	if h == healthBusy {
		l.state, l.since = healthBusy, l.now()
		return
	}
	if l.base == h {
		return
	}
	l.base = h
	if l.state != healthBusy {
		l.state, l.since = h, l.now()
	}
}

// level is what the LED shows now.
func (l *LED) level() bool {
	on, _ := l.levelFor()
	return on
}

// levelFor is what the LED shows now, and for how long at most; 0 is until
// Show changes the pattern.
func (l *LED) levelFor() (on bool, hold time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	elapsed := l.now().Sub(l.since)
	if l.state == healthBusy && elapsed >= burstLength {
		l.state, l.since = l.base, l.now()
		elapsed = 0
	}
	on, hold = ledPhase(l.state, elapsed)
	switch {
	case l.state == healthBusy:
		hold = min(hold, burstLength-elapsed)
	case len(ledPatterns[l.state]) == 1:
		hold = 0 // steady
	}
	return on, hold
}

// Run drives the output until ctx ends, then turns the LED off and gives
// it back.
func (l *LED) Run(ctx context.Context) error {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	last, first := false, true
	for {
		on, hold := l.levelFor()
		if on != last || first {
			if err := l.out.Set(on); err != nil {
				return fmt.Errorf("led: %w", err)
			}
			last, first = on, false
		}
		var wake <-chan time.Time
		if hold > 0 {
			t.Reset(max(hold, l.tick))
			wake = t.C
		}
		select {
		case <-ctx.Done():
			l.out.Set(false)
			return l.out.Close()
		case <-l.changed:
		case <-wake:
		}
	}
}

// gpioLED is an LED on a GPIO pin, through a resistor to ground (or to 3.3 V
// with -led-active-low).
type gpioLED struct {
	pin       gpio.PinOut
	activeLow bool
}

func (l gpioLED) Set(on bool) error {
	return l.pin.Out(gpio.Level(on != l.activeLow))
}

func (l gpioLED) Close() error {
	return l.Set(false)
}

// openLEDOutput resolves -led: an onboard LED name, a periph pin name
// (GPIO17, P1_11), or CHIP:LINE for any GPIO character device line
// (gpiochip0:17).
func openLEDOutput(name string, activeLow bool) (ledOutput, error) {
	if out, err := openOnboardLED(name); !errors.Is(err, os.ErrNotExist) {
		return out, err
	}
	pin, err := openPin(name)
	if err != nil {
		return nil, fmt.Errorf("-led %s: %w", name, err)
	}
	l := gpioLED{pin: pin, activeLow: activeLow}
	if err := l.Set(false); err != nil {
		return nil, fmt.Errorf("-led %s: %w", name, err)
	}
	return l, nil
}

// hostInit loads the periph drivers linked in: those of a Pi by default
// (periph_pi.go), every board periph knows with -tags periph_all.
var hostInit = sync.OnceValue(func() error {
	_, err := driverreg.Init()
	return err
})

// openPin finds a GPIO pin through periph.
func openPin(name string) (gpio.PinIO, error) {
	if err := hostInit(); err != nil {
		return nil, fmt.Errorf("periph init: %w", err)
	}
	if chip, line, ok := strings.Cut(name, ":"); ok {
		n, err := strconv.Atoi(line)
		if err != nil {
			return nil, fmt.Errorf("line %q: want a number", line)
		}
		for _, c := range gpioioctl.Chips {
			if c.Name() == chip || c.Label() == chip || filepath.Base(c.Path()) == chip {
				if p := c.ByNumber(n); p != nil {
					return p, nil
				}
				return nil, fmt.Errorf("%s has no line %d", chip, n)
			}
		}
		return nil, fmt.Errorf("no GPIO chip %q: %w", chip, os.ErrNotExist)
	}
	if p := gpioreg.ByName(name); p != nil {
		return p, nil
	}
	return nil, fmt.Errorf("no GPIO pin %q: %w", name, os.ErrNotExist)
}

// logLED stands in for the LED in dry-run and demo: it logs every burst
// and every change of the steady pattern, including those the gateway's
// state lines do not say (a pause shows the double blink while the modem
// is fine).
type logLED struct {
	log   *slog.Logger
	mu    sync.Mutex
	shown health // the last steady pattern logged
	any   bool   // shown is set
}

func (l *logLED) Show(h health) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if h != healthBusy {
		if l.any && h == l.shown {
			return
		}
		l.shown, l.any = h, true
	}
	l.log.Info("action", "action", "led", "detail", ledDescriptions[h], "dry_run", true)
}

var ledDescriptions = map[health]string{
	healthStarting:    "off (starting)",
	healthOK:          "steady on (all fine)",
	healthNoData:      "slow blink (modem up, no mobile data or signal)",
	healthUnreachable: "fast blink (modem unreachable)",
	healthLogin:       "double blink (modem login refused or held, or paused)",
	healthBusy:        "short burst (running a command)",
	healthHealing:     "triple blink (line down; healing it)",
}

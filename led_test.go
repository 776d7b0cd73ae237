package main

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

func TestLEDPatterns(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		h       health
		at      time.Duration
		want    bool
		meaning string
	}{
		{healthOK, 0, true, "steady on"},
		{healthOK, 12345 * ms, true, "steady on"},
		{healthNoData, 500 * ms, true, "slow blink: 1 s on"},
		{healthNoData, 1500 * ms, false, "slow blink: 1 s off"},
		{healthNoData, 2500 * ms, true, "slow blink repeats"},
		{healthUnreachable, 50 * ms, true, "fast blink: 100 ms on"},
		{healthUnreachable, 150 * ms, false, "fast blink: 100 ms off"},
		{healthLogin, 100 * ms, true, "double blink: first"},
		{healthLogin, 200 * ms, false, "double blink: gap"},
		{healthLogin, 350 * ms, true, "double blink: second"},
		{healthLogin, 1000 * ms, false, "double blink: pause"},
		{healthBusy, 25 * ms, true, "burst"},
		{healthBusy, 75 * ms, false, "burst"},
		{healthStarting, 0, false, "off while starting"},
		{healthHealing, 50 * ms, true, "triple blink: first"},
		{healthHealing, 200 * ms, false, "triple blink: gap"},
		{healthHealing, 350 * ms, true, "triple blink: second"},
		{healthHealing, 650 * ms, true, "triple blink: third"},
		{healthHealing, 1500 * ms, false, "triple blink: pause"},
	}
	for _, tt := range tests {
		if got := ledLevel(tt.h, tt.at); got != tt.want {
			t.Errorf("%v at %v = %v, want %v (%s)", tt.h, tt.at, got, tt.want, tt.meaning)
		}
	}
	for h := healthStarting; h <= healthHealing; h++ {
		if patternLength(ledPatterns[h]) == 0 || ledDescriptions[h] == "" {
			t.Errorf("state %v has no LED pattern or description", h)
		}
	}
	if patternLength(ledPatterns[healthLogin]) != 1500*ms || burstLength != 500*ms || patternLength(ledPatterns[healthHealing]) != 2000*ms {
		t.Error("pattern lengths changed: update README's LED table")
	}
}

// recordingPin is periph's fake pin, with every level written kept.
type recordingPin struct {
	gpiotest.Pin
	mu     sync.Mutex
	levels []gpio.Level
}

func (p *recordingPin) Out(l gpio.Level) error {
	p.mu.Lock()
	p.levels = append(p.levels, l)
	p.mu.Unlock()
	return p.Pin.Out(l)
}

func (p *recordingPin) history() []gpio.Level {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]gpio.Level(nil), p.levels...)
}

// TestLEDOnFakePin runs in a synctest bubble: the pattern and Run's timer
// read one clock, so each level is checked at an exact time.
func TestLEDOnFakePin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pin := &recordingPin{Pin: gpiotest.Pin{N: "GPIO17", Num: 17}}
		led := NewLED(gpioLED{pin: pin})
		led.Show(healthOK)
		if !led.level() {
			t.Fatal("ok: LED off")
		}
		led.Show(healthBusy)
		var burst []bool
		for i := 0; i < 10; i++ {
			burst = append(burst, led.level())
			time.Sleep(50 * time.Millisecond)
		}
		want := []bool{true, false, true, false, true, false, true, false, true, false}
		for i := range want {
			if burst[i] != want[i] {
				t.Fatalf("burst %v", burst)
			}
		}
		// A state change during the burst shows once the burst is over.
		led.Show(healthBusy)
		led.Show(healthUnreachable)
		time.Sleep(burstLength)
		on := led.level()
		time.Sleep(100 * time.Millisecond)
		if !on || led.level() {
			t.Error("after the burst: not the fast blink")
		}

		ctx, cancel := context.WithCancel(t.Context())
		led.tick = time.Millisecond
		led.Show(healthOK)
		done := make(chan error)
		go func() { done <- led.Run(ctx) }()
		synctest.Wait()
		if pin.Read() != gpio.High {
			t.Fatal("pin not high once Run settled")
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if pin.Read() != gpio.Low {
			t.Error("LED left on after exit")
		}
		if h := pin.history(); len(h) < 2 || h[0] != gpio.High {
			t.Errorf("levels %v", h)
		}
	})
}

func TestLEDActiveLow(t *testing.T) {
	pin := &gpiotest.Pin{N: "GPIO17"}
	l := gpioLED{pin: pin, activeLow: true}
	l.Set(true)
	if pin.Read() != gpio.Low {
		t.Error("active-low LED on: pin not low")
	}
	l.Close()
	if pin.Read() != gpio.High {
		t.Error("active-low LED off: pin not high")
	}
}

// TestLEDSleepsWhileSteady: a steady LED costs no wakeups; a blinking one
// wakes at its edges, not every tick (an idle Pi's CPU, BENCHMARKS.md). In
// a synctest bubble the edges fall at exact times, so the counts are exact.
func TestLEDSleepsWhileSteady(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pin := &recordingPin{Pin: gpiotest.Pin{N: "GPIO17", Num: 17}}
		led := NewLED(gpioLED{pin: pin})
		var looks atomic.Int32
		led.now = func() time.Time { looks.Add(1); return time.Now() }
		led.Show(healthOK)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- led.Run(ctx) }()
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := looks.Load(); n > 3 { // Show's, Run's first, and Run's on Show's nudge
			t.Errorf("steady on: %d looks at the clock in an hour", n)
		}
		// Fast blink: 100 ms steps. The pin is already on, so the edges
		// fall at 100, 200, ... 1000 ms; one look at each, plus Show's and
		// Run's on its nudge.
		before := len(pin.history())
		looks.Store(0)
		led.Show(healthUnreachable)
		time.Sleep(time.Second)
		synctest.Wait()
		if edges := len(pin.history()) - before; edges != 10 {
			t.Errorf("fast blink: %d edges in a second, want 10", edges)
		}
		if n := looks.Load(); n > 12 {
			t.Errorf("fast blink: %d looks at the clock for 10 edges", n)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

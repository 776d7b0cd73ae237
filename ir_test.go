package main

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio/gpiostream"
	"periph.io/x/conn/v3/gpio/gpiostream/gpiostreamtest"
	"periph.io/x/conn/v3/physic"
)

// within checks got against the published value, 1% tolerance.
func within(t *testing.T, what string, got uint32, want float64) {
	t.Helper()
	if math.Abs(float64(got)-want) > want*0.01 {
		t.Errorf("%s = %d µs, want %.1f µs ±1%%", what, got, want)
	}
}

// decodePulseDistance reads n bits LSB first from marks of the given pulse,
// with zero/one spaces (published timings), checking each duration.
func decodePulseDistance(t *testing.T, d []uint32, n int, pulse, zero, one float64) uint64 {
	t.Helper()
	var v uint64
	for i := 0; i < n; i++ {
		within(t, "bit pulse", d[2*i], pulse)
		space := float64(d[2*i+1])
		switch {
		case math.Abs(space-one) <= one*0.01:
			v |= 1 << i
		case math.Abs(space-zero) <= zero*0.01:
		default:
			t.Fatalf("bit %d space %v µs is neither %v nor %v", i, space, zero, one)
		}
	}
	return v
}

// frameStarts returns the offsets (µs) at which frames begin: after every
// space longer than gap.
func frameStarts(d []uint32, gap uint32) []float64 {
	starts := []float64{0}
	at := 0.0
	for i, x := range d {
		at += float64(x)
		if i%2 == 1 && x > gap {
			starts = append(starts, at)
		}
	}
	return starts
}

func checkPeriod(t *testing.T, d []uint32, gap uint32, period time.Duration, frames int) {
	t.Helper()
	starts := frameStarts(d, gap)
	if len(starts) != frames {
		t.Fatalf("%d frames, want %d", len(starts), frames)
	}
	for i := 1; i < len(starts); i++ {
		within(t, "frame period", uint32(math.Round(starts[i]-starts[i-1])), float64(period.Microseconds()))
	}
}

func TestNECFamily(t *testing.T) {
	tests := []struct {
		code string
		raw  uint64 // the 32 bits on the air, first bit sent = bit 0
	}{
		{"nec:0x0408", 0xF708FB04},    // LG TV power: address 0x04, command 0x08
		{"necx:0x04fb08", 0xF708FB04}, // the same as extended NEC
		{"necx:0x123408", 0xF7083412}, // 16-bit address 0x1234
		{"nec32:0x12345678", 0},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			c, err := parseIRCode(tt.code)
			if err != nil {
				t.Fatal(err)
			}
			if c.carrier != 38000 {
				t.Errorf("carrier %d", c.carrier)
			}
			d := c.signal(3, false)
			within(t, "leader pulse", d[0], 9000)
			within(t, "leader space", d[1], 4500)
			got := decodePulseDistance(t, d[2:], 32, 562.5, 562.5, 1687.5)
			want := tt.raw
			if strings.HasPrefix(tt.code, "nec32") {
				// aaAAddDD: sent as AA, aa, DD, dd.
				want = 0x34 | 0x12<<8 | 0x78<<16 | 0x56<<24
			}
			if got != want {
				t.Errorf("bits %#08x, want %#08x", got, want)
			}
			within(t, "trailer", d[66], 562.5)
			// Repeat frames: 9 ms pulse, 2.25 ms space, 562.5 µs pulse.
			rep := d[68:71]
			within(t, "repeat pulse", rep[0], 9000)
			within(t, "repeat space", rep[1], 2250)
			within(t, "repeat trailer", rep[2], 562.5)
			checkPeriod(t, d, 10000, 108*time.Millisecond, 3)
			if len(d)%2 != 1 {
				t.Error("signal does not end with a pulse")
			}
		})
	}
}

func TestSamsung32(t *testing.T) {
	// LG home theaters and sound bars: Samsung32 address 0x2C, power 0x1E.
	c, err := parseIRCode("samsung32:0x2c2c1e")
	if err != nil {
		t.Fatal(err)
	}
	d := c.signal(2, false)
	within(t, "leader pulse", d[0], 4500)
	within(t, "leader space", d[1], 4500)
	if got := decodePulseDistance(t, d[2:], 32, 560, 560, 1690); got != 0xE11E2C2C {
		t.Errorf("bits %#08x, want 0xE11E2C2C (2C 2C 1E E1)", got)
	}
	// Samsung repeats the whole frame.
	if d[68] != d[0] || d[69] != d[1] {
		t.Error("second frame is not the full frame")
	}
	checkPeriod(t, d, 10000, 108*time.Millisecond, 2)
}

func TestSony(t *testing.T) {
	tests := []struct {
		code   string
		bits   int
		raw    uint64
		frames int
	}{
		{"sony12:0x010015", 12, 0x15 | 1<<7, 3},               // TV power: device 1, function 21
		{"sony15:0x970015", 15, 0x15 | 0x97<<7, 3},            // 8-bit device
		{"sony20:0x1a5a15", 20, 0x15 | 0x1a<<7 | 0x5a<<12, 4}, // device 26, extended 0x5a
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			c, err := parseIRCode(tt.code)
			if err != nil {
				t.Fatal(err)
			}
			if c.carrier != 40000 {
				t.Errorf("carrier %d", c.carrier)
			}
			d := c.signal(1, false) // Sony sends at least 3 frames
			if tt.frames == 4 {
				d = c.signal(4, false)
			}
			within(t, "leader", d[0], 2400)
			var v uint64
			for i := 0; i < tt.bits; i++ {
				within(t, "space", d[1+2*i], 600)
				switch mark := d[2+2*i]; {
				case math.Abs(float64(mark)-1200) <= 12:
					v |= 1 << i
				case math.Abs(float64(mark)-600) <= 6:
				default:
					t.Fatalf("bit %d mark %d", i, mark)
				}
			}
			if v != tt.raw {
				t.Errorf("bits %#x, want %#x", v, tt.raw)
			}
			checkPeriod(t, d, 5000, 45*time.Millisecond, tt.frames)
		})
	}
}

// halves expands a bi-phase signal into carrier-on/off levels per unit.
func halves(t *testing.T, d []uint32, unit float64) []bool {
	t.Helper()
	var out []bool
	for i, x := range d {
		n := math.Round(float64(x) / unit)
		if math.Abs(float64(x)-n*unit) > unit*n*0.01 {
			t.Fatalf("duration %d is not a whole number of %.1f µs units", x, unit)
		}
		for j := 0; j < int(n); j++ {
			out = append(out, i%2 == 0)
		}
	}
	return out
}

func TestRC5(t *testing.T) {
	c, err := parseIRCode("rc5:0x050c") // address 5, command 12
	if err != nil {
		t.Fatal(err)
	}
	if c.carrier != 36000 {
		t.Errorf("carrier %d", c.carrier)
	}
	for _, toggle := range []bool{false, true} {
		d := c.signal(1, toggle)
		// The first half of the start bit is idle (1 = space then pulse).
		h := append([]bool{false}, halves(t, d, 889)...)
		for len(h) < 28 {
			h = append(h, false)
		}
		var bits []bool
		for i := 0; i < 28; i += 2 {
			if h[i] == h[i+1] {
				t.Fatalf("half-bits %d,%d equal: not bi-phase", i, i+1)
			}
			bits = append(bits, h[i+1])
		}
		want := []bool{true, true, toggle, false, false, true, false, true, false, false, true, true, false, false}
		for i := range want {
			if bits[i] != want[i] {
				t.Fatalf("toggle %v: bits %v, want %v", toggle, bits, want)
			}
		}
	}
	checkPeriod(t, c.signal(2, false), 5000, 113778*time.Microsecond, 2)
	// Command 64-127 clears the field bit (RC5X).
	x, _ := parseIRCode("rc5:0x0541")
	if h := append([]bool{false}, halves(t, x.signal(1, false), 889)...); h[3] {
		t.Error("field bit set for command 0x41")
	}
}

func TestRC6Mode0(t *testing.T) {
	c, err := parseIRCode("rc6_0:0x800c") // control (address) 0x80, information (command) 0x0c
	if err != nil {
		t.Fatal(err)
	}
	d := c.signal(1, true)
	within(t, "leader pulse", d[0], 2666.7)
	within(t, "leader space", d[1], 888.9)
	h := halves(t, d[2:], 444.444)
	for len(h) < 2*(1+3+2+16) {
		h = append(h, false)
	}
	read := func(i int) bool {
		if h[i] == h[i+1] {
			t.Fatalf("half-bits %d,%d equal", i, i+1)
		}
		return h[i] // RC-6: 1 = pulse then space
	}
	if !read(0) {
		t.Error("start bit")
	}
	for i := 0; i < 3; i++ {
		if read(2 + 2*i) {
			t.Error("mode bit set in mode 0")
		}
	}
	// Trailer bit: two units per half.
	if h[8] != h[9] || h[10] != h[11] || h[8] == h[10] || !h[8] {
		t.Errorf("toggle bit halves %v, want on,on,off,off", h[8:12])
	}
	var v uint32
	for i := 0; i < 16; i++ {
		v <<= 1
		if read(12 + 2*i) {
			v |= 1
		}
	}
	if v != 0x800c {
		t.Errorf("payload %#x, want 0x800c", v)
	}
	checkPeriod(t, c.signal(2, false), 2000, 106667*time.Microsecond, 2)
}

func TestParseIRCode(t *testing.T) {
	good := []string{"nec:0x0408", "NEC:0408", "raw:38000:9000,4500,560", "raw:36000:889,889,889"}
	for _, s := range good {
		if _, err := parseIRCode(s); err != nil {
			t.Errorf("parseIRCode(%q): %v", s, err)
		}
	}
	bad := []string{"", "nec", "nec:zz", "nec:0x10000", "sony12:0x200000", "foo:0x1", "raw:38000:9000,4500",
		"raw:1000:9000", "raw:38000:0", "raw:38000:" + strings.Repeat("500,", 1100) + "500", "raw:38000:abc"}
	for _, s := range bad {
		if _, err := parseIRCode(s); err == nil {
			t.Errorf("parseIRCode(%q) accepted", s)
		}
	}
	raw, _ := parseIRCode("raw:38000:9000,4500,560")
	if got := raw.signal(5, false); len(got) != 3 || got[0] != 9000 {
		t.Errorf("raw signal %v", got)
	}
	if _, err := parseIRCodes([]string{"power"}); err == nil {
		t.Error("-ir-code without =")
	}
}

func TestMode2Output(t *testing.T) {
	c, _ := parseIRCode("nec:0x0408")
	out := mode2(c.carrier, c.signal(1, false))
	if !strings.HasPrefix(out, "carrier 38000\npulse 9000\nspace 4500\npulse 563\n") {
		t.Errorf("mode2 output:\n%s", out[:60])
	}
	if n := strings.Count(out, "\n"); n != 1+67 {
		t.Errorf("%d lines", n)
	}
}

// fakeLIRC records what a LIRC transmitter is told.
type fakeLIRC struct {
	features uint32
	set      map[uint]uint32
	written  [][]uint32
	closed   bool
}

func (f *fakeLIRC) Features() (uint32, error) { return f.features, nil }

func (f *fakeLIRC) SetU32(req uint, v uint32) error {
	f.set[req] = v
	return nil
}

func (f *fakeLIRC) Write(b []byte) (int, error) {
	var d []uint32
	for i := 0; i+4 <= len(b); i += 4 {
		d = append(d, binary.NativeEndian.Uint32(b[i:]))
	}
	f.written = append(f.written, d)
	return len(b), nil
}

func (f *fakeLIRC) Close() error { f.closed = true; return nil }

func TestLIRCTransmitter(t *testing.T) {
	dev := &fakeLIRC{features: lircCanSendPulse | lircCanSetCarrier | lircCanSetDutyCycle, set: map[uint]uint32{}}
	tx, err := newLIRCTX(dev)
	if err != nil {
		t.Fatal(err)
	}
	codes, _ := parseIRCodes([]string{"hifi-power=samsung32:0x2c2c1e", "tv=rc5:0x050c"})
	ir := &IR{codes: codes, tx: tx, toggle: map[string]bool{}}
	if err := ir.Send(context.Background(), "hifi-power", 2); err != nil {
		t.Fatal(err)
	}
	if dev.set[lircSetSendMode] != lircModePulse || dev.set[lircSetSendCarrier] != 38000 || dev.set[lircSetSendDutyCycle] != duty {
		t.Errorf("ioctls %v", dev.set)
	}
	want := codes["hifi-power"].signal(2, false)
	if got := dev.written[0]; len(got) != len(want) || got[0] != want[0] || got[len(got)-1] != want[len(want)-1] {
		t.Errorf("wrote %d values, want %d", len(got), len(want))
	}
	// RC-5 toggles between key presses.
	ir.Send(context.Background(), "tv", 1)
	ir.Send(context.Background(), "tv", 1)
	if a, b := dev.written[1], dev.written[2]; equalU32(a, b) {
		t.Error("RC-5 toggle bit did not change between presses")
	}
	if err := ir.Send(context.Background(), "nothing", 1); err == nil {
		t.Error("unknown code sent")
	}
	if _, err := newLIRCTX(&fakeLIRC{features: 0x00020000, set: map[uint]uint32{}}); err == nil {
		t.Error("a receive-only device accepted")
	}
	basic := &fakeLIRC{features: lircCanSendPulse, set: map[uint]uint32{}}
	tx2, _ := newLIRCTX(basic)
	tx2.Transmit(38000, 33, []uint32{100})
	if _, ok := basic.set[lircSetSendCarrier]; ok {
		t.Error("carrier set on a device that cannot")
	}
}

func equalU32(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestOpenLIRCMissing(t *testing.T) {
	if _, err := openLIRC("/nonexistent/lirc0"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v", err)
	}
}

// TestGPIOTransmitter checks the carrier streamed on a periph pin: the
// sample rate is three samples per carrier period (33% duty), and the
// envelope of the stream reproduces every pulse and space to within one
// carrier period.
func TestGPIOTransmitter(t *testing.T) {
	pin := &gpiostreamtest.PinOutRecord{N: "GPIO18", DontPanic: true}
	tx := &gpioTX{pin: pin}
	c, _ := parseIRCode("nec:0x0408")
	d := c.signal(1, false)
	if err := tx.Transmit(c.carrier, duty, d); err != nil {
		t.Fatal(err)
	}
	if len(pin.Ops) != 1 {
		t.Fatalf("%d streams", len(pin.Ops))
	}
	bs := pin.Ops[0].(*gpiostream.BitStream)
	if bs.Freq != 114*physic.KiloHertz || !bs.LSBF {
		t.Fatalf("stream at %s, LSBF %v", bs.Freq, bs.LSBF)
	}
	sample := 1e6 / 114000.0
	var on []bool
	for i := 0; i < len(bs.Bits)*8; i++ {
		on = append(on, bs.Bits[i/8]>>(i%8)&1 == 1)
	}
	// Envelope: a sample is "carrier" if a high sample is within the next
	// carrier period.
	env := make([]bool, len(on))
	for i := range on {
		for j := i; j < i+3 && j < len(on); j++ {
			if on[j] {
				env[i] = true
			}
		}
	}
	var runs []float64
	for i := 0; i < len(env); {
		j := i
		for j < len(env) && env[j] == env[i] {
			j++
		}
		runs = append(runs, float64(j-i)*sample)
		i = j
	}
	if !env[0] {
		t.Fatal("stream does not start with carrier")
	}
	for i, want := range d {
		if i >= len(runs) {
			t.Fatalf("only %d runs for %d durations", len(runs), len(d))
		}
		if math.Abs(runs[i]-float64(want)) > 1e6/38000+sample {
			t.Errorf("duration %d: streamed %.0f µs, want %d", i, runs[i], want)
		}
	}
	if _, err := modulate(120000, 33, d); err == nil {
		t.Error("a 120 kHz carrier accepted beyond the DMA rate")
	}
}

func FuzzParseIRCode(f *testing.F) {
	for _, s := range []string{"nec:0x0408", "samsung32:0x2c2c1e", "rc6_0:0xffff", "raw:38000:9000,4500,560", "sony20:0x1fff7f"} {
		f.Add(s, uint8(3))
	}
	f.Fuzz(func(t *testing.T, s string, frames uint8) {
		c, err := parseIRCode(s)
		if err != nil {
			return
		}
		d := c.signal(int(frames%maxIRCount)+1, frames&1 == 1)
		if len(d)%2 != 1 {
			t.Fatalf("%q: %d durations, want pulse first and last", s, len(d))
		}
		total := 0
		for _, x := range d {
			if x == 0 {
				t.Fatalf("%q: zero duration", s)
			}
			total += int(x)
		}
		if time.Duration(total)*time.Microsecond > maxIRTime {
			t.Fatalf("%q: %d µs of IR", s, total)
		}
	})
}

package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio/gpiostream"
	"periph.io/x/conn/v3/physic"
)

// irProtocol describes one protocol's timing, as published (NEC, Sony SIRC,
// Philips RC-5 and RC-6, Samsung), in microseconds.
type irProtocol struct {
	carrier int           // Hz
	period  time.Duration // from the start of one frame to the start of the next
	// minFrames is how many frames a key press sends at least: Sony devices
	// act only on the third.
	minFrames int
	// encode returns one frame: pulse, space, pulse, ..., pulse.
	encode func(scancode uint32, toggle bool) []float64
	// repeat returns the frame sent while a key is held; nil repeats the
	// frame itself.
	repeat  func() []float64
	maxCode uint32
}

const (
	necUnit   = 562.5
	rc5Half   = 888.889 // 32 carrier periods at 36 kHz
	rc6Unit   = 444.444 // 16 carrier periods at 36 kHz
	sonyUnit  = 600
	samsBit   = 560
	samsOne   = 1690
	samsLead  = 4500
	duty      = 33 // percent: what most remotes use
	maxIRTime = 5 * time.Second
)

var irProtocols = map[string]irProtocol{
	"nec":       {carrier: 38000, period: 108 * time.Millisecond, minFrames: 1, encode: necFrame("nec"), repeat: necRepeat, maxCode: 0xffff},
	"necx":      {carrier: 38000, period: 108 * time.Millisecond, minFrames: 1, encode: necFrame("necx"), repeat: necRepeat, maxCode: 0xffffff},
	"nec32":     {carrier: 38000, period: 108 * time.Millisecond, minFrames: 1, encode: necFrame("nec32"), repeat: necRepeat, maxCode: 0xffffffff},
	"samsung32": {carrier: 38000, period: 108 * time.Millisecond, minFrames: 1, encode: samsungFrame, maxCode: 0xffffff},
	"sony12":    {carrier: 40000, period: 45 * time.Millisecond, minFrames: 3, encode: sonyFrame(12), maxCode: 0x1f007f},
	"sony15":    {carrier: 40000, period: 45 * time.Millisecond, minFrames: 3, encode: sonyFrame(15), maxCode: 0xff007f},
	"sony20":    {carrier: 40000, period: 45 * time.Millisecond, minFrames: 3, encode: sonyFrame(20), maxCode: 0x1fff7f},
	"rc5":       {carrier: 36000, period: 113778 * time.Microsecond, minFrames: 1, encode: rc5Frame, maxCode: 0x1f7f},
	"rc6_0":     {carrier: 36000, period: 106667 * time.Microsecond, minFrames: 1, encode: rc6Frame, maxCode: 0xffff},
}

// pulseDistance appends n bits of v, least significant first, as
// pulse-distance marks: every bit a pulse, the space telling 0 from 1.
func pulseDistance(out []float64, v uint32, n int, pulse, zero, one float64) []float64 {
	for i := 0; i < n; i++ {
		space := zero
		if v>>i&1 == 1 {
			space = one
		}
		out = append(out, pulse, space)
	}
	return out
}

// necFrame follows the kernel's scancode layout: nec AADD, necx AAaaDD,
// nec32 aaAAddDD; sent as address, address', command, command', LSB first.
func necFrame(variant string) func(uint32, bool) []float64 {
	return func(sc uint32, _ bool) []float64 {
		var addr, addrInv, cmd, cmdInv uint32
		cmd = sc & 0xff
		switch variant {
		case "nec32":
			addrInv, addr, cmdInv = sc>>24&0xff, sc>>16&0xff, sc>>8&0xff
		case "necx":
			addr, addrInv, cmdInv = sc>>16&0xff, sc>>8&0xff, cmd^0xff
		default:
			addr, cmd = sc>>8&0xff, sc&0xff
			addrInv, cmdInv = addr^0xff, cmd^0xff
		}
		raw := cmdInv<<24 | cmd<<16 | addrInv<<8 | addr
		f := []float64{16 * necUnit, 8 * necUnit}
		f = pulseDistance(f, raw, 32, necUnit, necUnit, 3*necUnit)
		return append(f, necUnit)
	}
}

func necRepeat() []float64 { return []float64{16 * necUnit, 4 * necUnit, necUnit} }

// samsungFrame: Samsung32 (as in Flipper-IRDB and LIRC configs), scancode
// AAaaDD like necx: address, second address byte, command, inverted
// command; a 4.5 ms leader instead of NEC's 9 ms.
func samsungFrame(sc uint32, _ bool) []float64 {
	addr, addr2, cmd := sc>>16&0xff, sc>>8&0xff, sc&0xff
	raw := (cmd^0xff)<<24 | cmd<<16 | addr2<<8 | addr
	f := []float64{samsLead, samsLead}
	f = pulseDistance(f, raw, 32, samsBit, samsBit, samsOne)
	return append(f, samsBit)
}

// sonyFrame: SIRC, pulse-width coded, LSB first: 7 function bits, then the
// device (5 or 8 bits), then for sony20 8 extended bits. Kernel scancode:
// device in bits 16-23, extended in 8-15, function in 0-6.
func sonyFrame(bits int) func(uint32, bool) []float64 {
	return func(sc uint32, _ bool) []float64 {
		function, device, ext := sc&0x7f, sc>>16&0xff, sc>>8&0xff
		var raw uint32
		switch bits {
		case 12:
			raw = function | (device&0x1f)<<7
		case 15:
			raw = function | device<<7
		default:
			raw = function | (device&0x1f)<<7 | ext<<12
		}
		f := []float64{4 * sonyUnit}
		for i := 0; i < bits; i++ {
			mark := float64(sonyUnit)
			if raw>>i&1 == 1 {
				mark = 2 * sonyUnit
			}
			f = append(f, sonyUnit, mark)
		}
		return f
	}
}

// manchester turns half-bit levels (true = carrier on) into alternating
// pulse/space durations, merging equal neighbours.
func manchester(levels []bool, halves []float64) []float64 {
	var out []float64
	var last bool
	for i, on := range levels {
		if i > 0 && on == last {
			out[len(out)-1] += halves[i]
			continue
		}
		if i == 0 && !on {
			continue // a frame starts with carrier: a leading space is idle time
		}
		out = append(out, halves[i])
		last = on
	}
	if len(out)%2 == 0 {
		out = out[:len(out)-1] // trailing space is idle time
	}
	return out
}

// rc5Frame: 14 bits MSB first, bi-phase with 1 = space then pulse: start 1,
// field bit (scancode bit 6, inverted), toggle, 5 address bits (scancode
// 8-12), 6 command bits (scancode 0-5).
func rc5Frame(sc uint32, toggle bool) []float64 {
	bits := []bool{true, sc>>6&1 == 0, toggle}
	for i := 4; i >= 0; i-- {
		bits = append(bits, sc>>(8+i)&1 == 1)
	}
	for i := 5; i >= 0; i-- {
		bits = append(bits, sc>>i&1 == 1)
	}
	var levels []bool
	var halves []float64
	for _, b := range bits {
		levels = append(levels, !b, b)
		halves = append(halves, rc5Half, rc5Half)
	}
	return manchester(levels, halves)
}

// rc6Frame: mode 0. Leader 6t pulse, 2t space; start bit 1; mode 000;
// trailer (toggle) bit of double length; 8 address and 8 command bits, MSB
// first; 1 = pulse then space.
func rc6Frame(sc uint32, toggle bool) []float64 {
	levels := []bool{true, false}
	halves := []float64{6 * rc6Unit, 2 * rc6Unit}
	add := func(b bool, width float64) {
		levels = append(levels, b, !b)
		halves = append(halves, width, width)
	}
	add(true, rc6Unit)
	for i := 0; i < 3; i++ {
		add(false, rc6Unit)
	}
	add(toggle, 2*rc6Unit)
	for i := 15; i >= 0; i-- {
		add(sc>>i&1 == 1, rc6Unit)
	}
	return manchester(levels, halves)
}

// irCode is a parsed -ir-code value: "protocol:scancode" as ir-ctl and
// ir-keytable write it, or "raw:CARRIER:PULSE,SPACE,...,PULSE".
type irCode struct {
	protocol string
	scancode uint32
	raw      []float64
	carrier  int
}

func parseIRCode(s string) (irCode, error) {
	proto, rest, ok := strings.Cut(strings.ToLower(strings.TrimSpace(s)), ":")
	if !ok {
		return irCode{}, fmt.Errorf("ir code %q: want protocol:scancode or raw:carrier:durations", s)
	}
	if proto == "raw" {
		carrierStr, list, ok := strings.Cut(rest, ":")
		carrier, err := strconv.Atoi(carrierStr)
		if !ok || err != nil || carrier < 20000 || carrier > 60000 {
			return irCode{}, fmt.Errorf("ir code %q: raw wants a carrier between 20000 and 60000 Hz", s)
		}
		var raw []float64
		total := 0.0
		for _, f := range strings.Split(list, ",") {
			d, err := strconv.ParseFloat(strings.TrimLeft(strings.TrimSpace(f), "+-"), 64)
			if err != nil || d < 1 || d > 500000 {
				return irCode{}, fmt.Errorf("ir code %q: duration %q: want 1 to 500000 µs", s, f)
			}
			raw = append(raw, d)
			total += d
		}
		if len(raw)%2 == 0 || len(raw) > 1024 || time.Duration(total)*time.Microsecond > maxIRTime {
			return irCode{}, fmt.Errorf("ir code %q: want an odd number of durations (pulse first and last), at most 1024 and 5 s", s)
		}
		return irCode{protocol: "raw", raw: raw, carrier: carrier}, nil
	}
	p, ok := irProtocols[proto]
	if !ok {
		return irCode{}, fmt.Errorf("ir code %q: unknown protocol %q (want one of %s, raw)", s, proto, strings.Join(irProtocolNames(), ", "))
	}
	v, err := strconv.ParseUint(strings.TrimPrefix(rest, "0x"), 16, 32)
	if err != nil {
		return irCode{}, fmt.Errorf("ir code %q: scancode must be hex: %w", s, err)
	}
	if uint32(v)&^p.maxCode != 0 {
		return irCode{}, fmt.Errorf("ir code %q: scancode has bits outside %#x for %s", s, p.maxCode, proto)
	}
	return irCode{protocol: proto, scancode: uint32(v), carrier: p.carrier}, nil
}

func irProtocolNames() []string {
	names := make([]string, 0, len(irProtocols))
	for n := range irProtocols {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// signal is the whole transmission for frames frames: the first frame, then
// repeat frames at the protocol's period, spaces between them included.
// Durations alternate pulse and space, pulse first and last, in µs.
func (c irCode) signal(frames int, toggle bool) []uint32 {
	if c.protocol == "raw" {
		return roundMicros(c.raw)
	}
	p := irProtocols[c.protocol]
	frames = max(frames, p.minFrames)
	first := p.encode(c.scancode, toggle)
	next := first
	if p.repeat != nil {
		next = p.repeat()
	}
	var out []float64
	frameStart := 0
	for i := 0; i < frames; i++ {
		f := first
		if i > 0 {
			f = next
			out = append(out, float64(p.period.Microseconds())-sum(out[frameStart:]))
			frameStart = len(out)
		}
		out = append(out, f...)
	}
	return roundMicros(out)
}

func sum(d []float64) float64 {
	t := 0.0
	for _, x := range d {
		t += x
	}
	return t
}

func roundMicros(d []float64) []uint32 {
	out := make([]uint32, len(d))
	for i, x := range d {
		out[i] = uint32(math.Round(x))
	}
	return out
}

// mode2 renders a signal the way `ir-ctl -r` and LIRC's mode2 print it.
func mode2(carrier int, d []uint32) string {
	var b strings.Builder
	fmt.Fprintf(&b, "carrier %d\n", carrier)
	for i, x := range d {
		kind := "pulse"
		if i%2 == 1 {
			kind = "space"
		}
		fmt.Fprintf(&b, "%s %d\n", kind, x)
	}
	return b.String()
}

// irTransmitter sends one modulated signal.
type irTransmitter interface {
	Transmit(carrier, dutyPercent int, durations []uint32) error
	Close() error
}

// IR sends named codes through a transmitter. It implements irSender.
type IR struct {
	codes map[string]irCode
	tx    irTransmitter

	mu     sync.Mutex // one transmission at a time
	toggle map[string]bool
}

// parseIRCodes reads -ir-code NAME=CODE values.
func parseIRCodes(defs []string) (map[string]irCode, error) {
	codes := map[string]irCode{}
	for _, def := range defs {
		name, code, ok := strings.Cut(def, "=")
		name = strings.ToLower(strings.TrimSpace(name))
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, fmt.Errorf("-ir-code %q: want NAME=protocol:scancode", def)
		}
		c, err := parseIRCode(code)
		if err != nil {
			return nil, fmt.Errorf("-ir-code %s: %w", name, err)
		}
		codes[name] = c
	}
	return codes, nil
}

// Names lists the code names, for help.
func (ir *IR) Names() []string {
	names := make([]string, 0, len(ir.codes))
	for n := range ir.codes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Send transmits the named code for count frames. RC-5 and RC-6 flip their
// toggle bit on every new key press, as a real remote does.
func (ir *IR) Send(ctx context.Context, name string, count int) error {
	c, ok := ir.codes[strings.ToLower(name)]
	if !ok {
		return fmt.Errorf("ir: no code named %q", name)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	ir.mu.Lock()
	defer ir.mu.Unlock()
	t := ir.toggle[name]
	ir.toggle[name] = !t
	if err := ir.tx.Transmit(c.carrier, duty, c.signal(count, t)); err != nil {
		return fmt.Errorf("ir %s: %w", name, err)
	}
	return nil
}

// LIRC ioctls (include/uapi/linux/lirc.h).
const (
	lircGetFeatures      = 0x80046900
	lircSetSendMode      = 0x40046911
	lircSetSendCarrier   = 0x40046913
	lircSetSendDutyCycle = 0x40046915
	lircModePulse        = 0x00000002
	lircCanSendPulse     = lircModePulse
	lircCanSetCarrier    = 0x00000100
	lircCanSetDutyCycle  = 0x00000400
)

// lircDevice is the part of /dev/lircN that a transmission needs; tests
// replace it.
type lircDevice interface {
	Features() (uint32, error)
	SetU32(req uint, v uint32) error
	io.WriteCloser
}

// lircTX transmits through a kernel LIRC device (gpio-ir-tx, pwm-ir-tx):
// the kernel does the carrier and timing.
type lircTX struct {
	dev      lircDevice
	features uint32
}

func newLIRCTX(dev lircDevice) (*lircTX, error) {
	feat, err := dev.Features()
	if err != nil {
		return nil, fmt.Errorf("LIRC_GET_FEATURES: %w", err)
	}
	if feat&lircCanSendPulse == 0 {
		return nil, errors.New("device cannot send (no LIRC_CAN_SEND_PULSE): is it a receiver?")
	}
	if err := dev.SetU32(lircSetSendMode, lircModePulse); err != nil {
		return nil, fmt.Errorf("LIRC_SET_SEND_MODE: %w", err)
	}
	return &lircTX{dev: dev, features: feat}, nil
}

func (t *lircTX) Transmit(carrier, dutyPercent int, d []uint32) error {
	if t.features&lircCanSetCarrier != 0 {
		if err := t.dev.SetU32(lircSetSendCarrier, uint32(carrier)); err != nil {
			return fmt.Errorf("LIRC_SET_SEND_CARRIER %d: %w", carrier, err)
		}
	}
	if t.features&lircCanSetDutyCycle != 0 {
		if err := t.dev.SetU32(lircSetSendDutyCycle, uint32(dutyPercent)); err != nil {
			return fmt.Errorf("LIRC_SET_SEND_DUTY_CYCLE %d: %w", dutyPercent, err)
		}
	}
	buf := make([]byte, 4*len(d))
	for i, x := range d {
		binary.NativeEndian.PutUint32(buf[4*i:], x)
	}
	n, err := t.dev.Write(buf)
	if err != nil {
		return fmt.Errorf("write to LIRC device: %w", err)
	}
	if n != len(buf) {
		return fmt.Errorf("LIRC device took %d of %d bytes", n, len(buf))
	}
	return nil
}

func (t *lircTX) Close() error { return t.dev.Close() }

// TakesCarrier asks the device for carrier, as a transmission would, and
// says whether the device sets a carrier at all (doctor's check).
func (t *lircTX) TakesCarrier(carrier int) (settable bool, err error) {
	if t.features&lircCanSetCarrier == 0 {
		return false, nil
	}
	if err := t.dev.SetU32(lircSetSendCarrier, uint32(carrier)); err != nil {
		return true, fmt.Errorf("LIRC_SET_SEND_CARRIER %d: %w", carrier, err)
	}
	return true, nil
}

// gpioTX keys the carrier on a periph GPIO pin with a DMA-driven bit stream
// (bcm283x: GPIO0-31, up to 200 kHz sampling): each carrier period is k
// samples, one of them high, so the duty cycle is 1/k.
type gpioTX struct {
	pin gpiostream.PinOut
}

// maxStreamRate is bcm283x's DMA limit for StreamOut on ordinary pins.
const maxStreamRate = 200000

func (t *gpioTX) Transmit(carrier, dutyPercent int, d []uint32) error {
	bs, err := modulate(carrier, dutyPercent, d)
	if err != nil {
		return err
	}
	return t.pin.StreamOut(bs)
}

func (t *gpioTX) Close() error { return nil }

// TakesCarrier says whether the pin can stream carrier.
func (t *gpioTX) TakesCarrier(carrier int) (bool, error) {
	_, err := modulate(carrier, duty, []uint32{1000})
	return true, err
}

// modulate builds the sampled carrier for a pulse/space signal.
func modulate(carrier, dutyPercent int, d []uint32) (*gpiostream.BitStream, error) {
	k := max(2, int(math.Round(100/float64(max(dutyPercent, 1)))))
	rate := carrier * k
	for rate > maxStreamRate && k > 2 {
		k--
		rate = carrier * k
	}
	if rate > maxStreamRate {
		return nil, fmt.Errorf("carrier %d Hz needs %d samples/s, over the %d the pin can stream", carrier, rate, maxStreamRate)
	}
	total := 0.0
	for _, x := range d {
		total += float64(x)
	}
	n := int(math.Round(total * float64(rate) / 1e6))
	bits := make([]byte, (n+7)/8)
	// Edges are placed at the sample nearest each pulse's true start and
	// end, so that rounding does not accumulate over a frame.
	at := 0.0
	for i, x := range d {
		start := int(math.Round(at * float64(rate) / 1e6))
		at += float64(x)
		end := int(math.Round(at * float64(rate) / 1e6))
		if i%2 == 1 {
			continue
		}
		for s := start; s < end; s++ {
			if (s-start)%k == 0 {
				bits[s/8] |= 1 << (s % 8)
			}
		}
	}
	return &gpiostream.BitStream{Bits: bits, Freq: physic.Frequency(rate) * physic.Hertz, LSBF: true}, nil
}

//go:build linux && !nosim

package main

// The simulator's own PDU code (TS 23.040 SMS-DELIVER out, SMS-SUBMIT in),
// written apart from pdu.go on purpose.

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"
)

// atSimGSM is the GSM 7-bit default alphabet, code by code (0x1B: escape).
var atSimGSM = []rune("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")

var atSimGSMExt = map[rune]byte{'\f': 0x0A, '^': 0x14, '{': 0x28, '}': 0x29, '\\': 0x2F, '[': 0x3C, '~': 0x3D, ']': 0x3E, '|': 0x40, '€': 0x65}

// atSimSeptets maps text to GSM-7 codes, or fails if a rune is not there.
func atSimSeptets(text string) ([]byte, bool) {
	var out []byte
outer:
	for _, r := range text {
		if r != 0x1B {
			for i, g := range atSimGSM {
				if g == r {
					out = append(out, byte(i))
					continue outer
				}
			}
		}
		c, ok := atSimGSMExt[r]
		if !ok {
			return nil, false
		}
		out = append(out, 0x1B, c)
	}
	return out, true
}

// atSimPack packs septets after fill bits, with a bit accumulator.
func atSimPack(septets []byte, fillBits int) []byte {
	var out []byte
	acc, n := uint32(0), fillBits
	for _, s := range septets {
		acc |= uint32(s&0x7F) << n
		n += 7
		for n >= 8 {
			out = append(out, byte(acc))
			acc >>= 8
			n -= 8
		}
	}
	if n > 0 {
		out = append(out, byte(acc))
	}
	return out
}

func atSimBCD(digits string) []byte {
	var out []byte
	for i := 0; i < len(digits); i += 2 {
		lo := digits[i] - '0'
		hi := byte(0x0F)
		if i+1 < len(digits) {
			hi = digits[i+1] - '0'
		}
		out = append(out, hi<<4|lo)
	}
	return out
}

// atSimAddress writes an originating address: international with "+",
// alphanumeric (GSM-7 packed) when it has letters.
func atSimAddress(from string) []byte {
	digits := strings.TrimPrefix(from, "+")
	numeric := digits != ""
	for _, c := range digits {
		numeric = numeric && c >= '0' && c <= '9'
	}
	if !numeric {
		sep, _ := atSimSeptets(from)
		packed := atSimPack(sep, 0)
		return append([]byte{byte(len(packed) * 2), 0xD0}, packed...)
	}
	toa := byte(0x81)
	if strings.HasPrefix(from, "+") {
		toa = 0x91
	}
	return append([]byte{byte(len(digits)), toa}, atSimBCD(digits)...)
}

func atSimTimestamp(t time.Time) []byte {
	_, off := t.Zone()
	q := off / 900
	sign := byte(0)
	if q < 0 {
		sign, q = 0x08, -q
	}
	swap := func(v int) byte { return byte(v%10)<<4 | byte(v/10) }
	tz := swap(q) | sign
	return []byte{swap(t.Year() % 100), swap(int(t.Month())), swap(t.Day()), swap(t.Hour()), swap(t.Minute()), swap(t.Second()), tz}
}

// atSimEncodeDeliver makes the SMS-DELIVER PDUs (SMSC field first) for a
// text: one, or concatenated parts of 153 septets / 67 UCS2 units with an
// 8- or 16-bit reference.
func atSimEncodeDeliver(from, text string, at time.Time, ref int, wide bool) []string {
	septets, gsm := atSimSeptets(text)
	var units [][]byte // the user data of each part, before packing
	// A 16-bit reference header is one octet longer: one septet less.
	gsmEach, ucsEach := 153, 134
	if wide {
		gsmEach, ucsEach = 152, 132
	}
	if gsm {
		units = atSimChunk(septets, 160, gsmEach, func(c []byte, n int) bool { return c[n-1] == 0x1B })
	} else {
		var b []byte
		for _, u := range utf16.Encode([]rune(text)) {
			b = append(b, byte(u>>8), byte(u))
		}
		units = atSimChunk(b, 140, ucsEach, func(c []byte, n int) bool { return n%2 == 1 || (c[n-2] >= 0xD8 && c[n-2] <= 0xDB) })
	}
	smsc := []byte{0x07, 0x91, 0x33, 0x86, 0x09, 0x40, 0x00, 0xF0} // +33689004000
	var out []string
	for i, u := range units {
		var udh []byte
		if len(units) > 1 {
			if wide {
				udh = []byte{0x06, 0x08, 0x04, byte(ref >> 8), byte(ref), byte(len(units)), byte(i + 1)}
			} else {
				udh = []byte{0x05, 0x00, 0x03, byte(ref), byte(len(units)), byte(i + 1)}
			}
		}
		first := byte(0x04) // SMS-DELIVER, no more messages to send
		if udh != nil {
			first |= 0x40
		}
		pdu := append(append([]byte{}, smsc...), first)
		pdu = append(pdu, atSimAddress(from)...)
		dcs := byte(0x08)
		if gsm {
			dcs = 0x00
		}
		pdu = append(pdu, 0x00, dcs)
		pdu = append(pdu, atSimTimestamp(at)...)
		if gsm {
			fill := (7 - len(udh)*8%7) % 7
			body := atSimPack(u, fill)
			pdu = append(pdu, byte((len(udh)*8+fill)/7+len(u)))
			pdu = append(append(pdu, udh...), body...)
		} else {
			pdu = append(pdu, byte(len(udh)+len(u)))
			pdu = append(append(pdu, udh...), u...)
		}
		out = append(out, strings.ToUpper(hex.EncodeToString(pdu)))
	}
	return out
}

// atSimChunk splits units; splits(c, n) says a cut after n units would
// break a character.
func atSimChunk(u []byte, one, each int, splits func(c []byte, n int) bool) [][]byte {
	if len(u) <= one {
		return [][]byte{u}
	}
	var out [][]byte
	for len(u) > each {
		n := each
		if splits(u, n) {
			n--
			if splits(u, n) {
				n--
			}
		}
		out = append(out, u[:n])
		u = u[n:]
	}
	return append(out, u)
}

// atSimMessageKey groups the parts of one message: sender, reference and
// count; a single message is its own group.
func atSimMessageKey(pduHex string, index int) string {
	b, err := hex.DecodeString(pduHex)
	if err != nil || len(b) < 2 {
		return fmt.Sprint(index)
	}
	b = b[1+int(b[0]):]
	if len(b) < 3 || b[0]&0x40 == 0 {
		return fmt.Sprint(index)
	}
	oaOctets := (int(b[1]) + 1) / 2
	p := 1 + 2 + oaOctets
	if len(b) < p+2+7+2 {
		return fmt.Sprint(index)
	}
	from := hex.EncodeToString(b[1:p])
	ud := b[p+2+7+1:]
	if ud[0] >= 5 && len(ud) > 6 && ud[1] == 0x00 {
		return fmt.Sprintf("%s/%d/%d", from, ud[3], ud[4])
	}
	if ud[0] >= 6 && len(ud) > 7 && ud[1] == 0x08 {
		return fmt.Sprintf("%s/%d/%d", from, int(ud[3])<<8|int(ud[4]), ud[5])
	}
	return fmt.Sprint(index)
}

var errAtSimPDU = errors.New("bad SMS-SUBMIT")

// atSimDecodeSubmit reads what the client sent after the prompt: SMSC field
// and an SMS-SUBMIT of wantLen octets.
func atSimDecodeSubmit(h string, wantLen int) (atSimSent, error) {
	b, err := hex.DecodeString(h)
	if err != nil || len(b) < 1 || len(b) < 1+int(b[0]) {
		return atSimSent{}, errAtSimPDU
	}
	t := b[1+int(b[0]):]
	if len(t) != wantLen {
		return atSimSent{}, fmt.Errorf("%w: length %d, AT+CMGS said %d", errAtSimPDU, len(t), wantLen)
	}
	if len(t) < 4 || t[0]&0x03 != 0x01 {
		return atSimSent{}, fmt.Errorf("%w: not a submit", errAtSimPDU)
	}
	first, nd := t[0], int(t[2])
	p := 4 + (nd+1)/2
	if len(t) < p+3 {
		return atSimSent{}, errAtSimPDU
	}
	out := atSimSent{To: atSimDigits(t[3], t[4:p], nd), Part: 1, Total: 1}
	dcs := t[p+1]
	p += 2
	switch first >> 3 & 0x03 { // validity period format
	case 2:
		p++
	case 1, 3:
		p += 7
	}
	if len(t) < p+1 {
		return atSimSent{}, errAtSimPDU
	}
	udl, ud := int(t[p]), t[p+1:]
	hdr := 0
	if first&0x40 != 0 && len(ud) > 0 {
		hdr = int(ud[0]) + 1
		if hdr > len(ud) {
			return atSimSent{}, errAtSimPDU
		}
		if hdr >= 6 && ud[1] == 0x00 && ud[2] == 3 {
			out.Total, out.Part = int(ud[4]), int(ud[5])
		}
	}
	out.Text, err = atSimUserText(dcs, udl, ud, hdr)
	return out, err
}

func atSimDigits(toa byte, b []byte, n int) string {
	var to strings.Builder
	if toa == 0x91 {
		to.WriteByte('+')
	}
	for i := 0; i < n; i++ {
		d := b[i/2]
		if i%2 == 1 {
			d >>= 4
		}
		to.WriteByte("0123456789*#abcf"[d&0x0F])
	}
	return to.String()
}

// atSimUserText decodes UCS2 or GSM-7 user data after a header of hdr
// octets.
func atSimUserText(dcs byte, udl int, ud []byte, hdr int) (string, error) {
	if dcs == 0x08 {
		if udl > len(ud) || udl < hdr || (udl-hdr)%2 != 0 {
			return "", errAtSimPDU
		}
		var u []uint16
		for i := hdr; i+1 < udl; i += 2 {
			u = append(u, uint16(ud[i])<<8|uint16(ud[i+1]))
		}
		return string(utf16.Decode(u)), nil
	}
	if dcs != 0x00 || (udl*7+7)/8 > len(ud) {
		return "", fmt.Errorf("%w: dcs %02x udl %d", errAtSimPDU, dcs, udl)
	}
	var sep []byte
	acc, n := uint32(0), 0
	for _, c := range ud {
		acc |= uint32(c) << n
		n += 8
		for n >= 7 && len(sep) < udl {
			sep = append(sep, byte(acc&0x7F))
			acc >>= 7
			n -= 7
		}
	}
	skip := (hdr*8 + 6) / 7
	if skip > len(sep) {
		return "", errAtSimPDU
	}
	var text strings.Builder
	esc := false
	for _, c := range sep[skip:] {
		switch {
		case esc:
			for r, e := range atSimGSMExt {
				if e == c {
					text.WriteRune(r)
				}
			}
			esc = false
		case c == 0x1B:
			esc = true
		default:
			text.WriteRune(atSimGSM[c])
		}
	}
	return text.String(), nil
}

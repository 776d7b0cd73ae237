package main

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Published SMS-DELIVER vectors (the dreamfabric.com PDU tutorial and the
// widely copied "How are you?" example) and what they say.
func TestDecodeDeliverVectors(t *testing.T) {
	cases := []struct {
		pdu, from, text, raw string
		at                   time.Time
	}{
		{"07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37",
			"27838890001", "hellohello", "99,03,29,15,16,59,+8",
			time.Date(1999, 3, 29, 15, 16, 59, 0, time.FixedZone("", 2*3600))},
		{"07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07",
			"+31641600986", "How are you?", "02,08,26,19,37,41,+0",
			time.Date(2002, 8, 26, 19, 37, 41, 0, time.UTC)},
	}
	for _, c := range cases {
		p, err := decodeDeliverPDU(c.pdu)
		if err != nil {
			t.Fatalf("%s: %v", c.pdu, err)
		}
		text, probs := decodeUnits(p.alphabet, p.units)
		if p.From != c.from || text != c.text || p.RawDate != c.raw || !p.Time.Equal(c.at) || len(probs)+len(p.problems) != 0 {
			t.Errorf("%s: got %q %q %q %v %v %v", c.pdu, p.From, text, p.RawDate, p.Time, probs, p.problems)
		}
	}
}

func TestDecodeDeliverRefusesWhatIsNotOne(t *testing.T) {
	for _, s := range []string{"", "zz", "00", "0001000B916407281553F800000AE8329BFD4697D9EC37", // a SUBMIT
		"07917283010010F5040BC87238880900F10000993092516195800AE8329B"} { // cut short
		if _, err := decodeDeliverPDU(s); err == nil {
			t.Errorf("%q decoded", s)
		}
	}
}

func TestEncodeSubmitVector(t *testing.T) {
	got, err := encodeSubmit("+46708251358", "hellohello", 0, 1)
	if err != nil || len(got) != 1 {
		t.Fatal(got, err)
	}
	if want := "0001000B916407281553F800000AE8329BFD4697D9EC37"; got[0].Hex != want || got[0].Length != 22 {
		t.Fatalf("got %s (%d), want %s (22)", got[0].Hex, got[0].Length, want)
	}
}

func TestEncodeSubmitSplits(t *testing.T) {
	cases := []struct {
		text  string
		parts int
	}{
		{strings.Repeat("a", 160), 1},
		{strings.Repeat("a", 161), 2},
		{strings.Repeat("€", 80), 1},          // 160 septets
		{strings.Repeat("€", 81), 2},          // an escape pair never split
		{strings.Repeat("ж", 70), 1},          // UCS2
		{strings.Repeat("ж", 71), 2},          // 67 a part
		{strings.Repeat("😀", 35), 1},          // 70 UTF-16 units
		{"a" + strings.Repeat("😀", 40), 2},    // a surrogate pair never split
		{strings.Repeat("a", 153*255+1), 256}, // more than a reference can count
	}
	for _, c := range cases {
		got, err := encodeSubmit("+4915112345678", c.text, 7, 300)
		if c.parts > 255 {
			if err == nil {
				t.Errorf("%d parts: no error", c.parts)
			}
			continue
		}
		if err != nil || len(got) != c.parts {
			t.Errorf("%.20q: %d parts %v, want %d", c.text, len(got), err, c.parts)
		}
		if _, err := encodeSubmit("+4915112345678", c.text, 7, c.parts-1); c.parts > 1 && err == nil {
			t.Errorf("%.20q: split beyond maxParts", c.text)
		}
	}
	if _, err := encodeSubmit("call me", "x", 0, 1); err == nil {
		t.Error("a number with letters encoded")
	}
}

// Parts of a long message stored out of order, one of them twice, each
// cut so that a character straddles two parts: the text comes out whole.
func TestMergePartsInAnyOrder(t *testing.T) {
	mk := func(index, seq int, units []byte) storedPart {
		return storedPart{Index: index, pduPart: pduPart{From: "+1", alphabet: alphaUCS2, units: units,
			concat: concatInfo{ref: 0x1234, wide: true, total: 3, seq: seq, present: true}}}
	}
	// "a😀b" in UTF-16BE: 0061 D83D DE00 0062, cut inside the pair.
	parts := []storedPart{mk(9, 3, []byte{0x00, 0x62}), mk(2, 1, []byte{0x00, 0x61, 0xD8, 0x3D}), mk(5, 2, []byte{0xDE, 0x00}), mk(7, 2, []byte{0xDE, 0x00})}
	got := mergeParts(parts)
	if len(got) != 1 || got[0].Text != "a😀b" || !got[0].Complete || len(got[0].Parts) != 4 || lowestIndex(got[0]) != 2 {
		t.Fatalf("got %+v", got)
	}
	got = mergeParts(parts[:2])
	if len(got) != 1 || got[0].Complete {
		t.Fatalf("two of three parts: %+v", got)
	}
}

func FuzzDecodeDeliverPDU(f *testing.F) {
	f.Add("07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37", "")
	f.Add("07911326040000F0440B911346610089F60008208062917314080E060804123403010061D83D", "07911326040000F0440B911346610089F60008208062917314080A060804123403020DE0")
	f.Add("0791448720003023440C91449703529096000050015132532240A00500030A0201986F79B90D4AC3E7F53688FC66BFE5A0799A0E0AB7CB741668FC76CFCB637A995E9783C2E4343C3D4F8FD3EE33A8CC4ED359A079990C22BF41E5747DDE7E9341F4721BFE9683D2EE719A9C26D7DD74509D0E6287C56F791954A683C86FF65B5E06B5C36777181466A7E3F5B0AB4A0795DDE936284C06B5D3EE741B642FBBD3E1360B14AFA7E7", "")
	f.Fuzz(func(t *testing.T, a, b string) {
		var parts []storedPart
		for i, s := range []string{a, b} {
			p, err := decodeDeliverPDU(s)
			if err != nil {
				continue
			}
			parts = append(parts, storedPart{Index: i, PDU: s, pduPart: p})
		}
		for _, m := range mergeParts(parts) {
			if !utf8.ValidString(m.Text) || len(m.Parts) == 0 {
				t.Fatalf("merged %+v", m)
			}
		}
	})
}

func FuzzEncodeSubmit(f *testing.F) {
	f.Add("+4915112345678", "hello €", 2)
	f.Add("0612", "😀ж", 3)
	f.Fuzz(func(t *testing.T, number, text string, max int) {
		pdus, err := encodeSubmit(number, text, 1, max%8)
		if err != nil {
			return
		}
		for _, p := range pdus {
			if len(p.Hex) != 2+2*p.Length || p.Length > 164 {
				t.Fatalf("pdu %s length %d", p.Hex, p.Length)
			}
		}
	})
}

// deliverHex builds a DELIVER from +4915112345678 dated 2026-12-04 with
// the given first octet, DCS, UDL and user data (no SMSC).
func deliverHex(first, dcs byte, ts string, udl int, ud []byte) string {
	h := fmt.Sprintf("00%02X0E91941511325476F8%02X%02X", first, 0, dcs) + ts + fmt.Sprintf("%02X", udl)
	return h + strings.ToUpper(hex.EncodeToString(ud))
}

func TestDecodeDeliverCodings(t *testing.T) {
	ts := "62214071005040"                 // 26-12-04 17:00:05 +1:00
	nlss := []byte{0x03, 0x24, 0x01, 0x01} // national language single shift, Turkish
	cases := []struct {
		name, pdu, text, problem string
	}{
		{"8-bit utf-8", deliverHex(0x04, 0x04, ts, 2, []byte("hi")), "hi", "8-bit data, read as UTF-8"},
		{"8-bit binary", deliverHex(0x04, 0xF4, ts, 2, []byte{0xFF, 0x01}), "FF01", "8-bit data, shown in hex"},
		{"compressed", deliverHex(0x04, 0x20, ts, 0, nil), "", "compressed text"},
		{"national shift flagged", deliverHex(0x44, 0x08, ts, 6, append(nlss, 0x00, 0x61)), "a", "national language single shift table 1"},
		{"bad concatenation read whole", deliverHex(0x44, 0x08, ts, 8, []byte{0x05, 0x00, 0x03, 0x01, 0x02, 0x00, 0x00, 0x62}), "b", "part 0 of 2"},
		{"month 13", deliverHex(0x04, 0x08, "62314071005040", 2, []byte{0x00, 0x63}), "c", "timestamp is not a date"},
	}
	for _, c := range cases {
		p, err := decodeDeliverPDU(c.pdu)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		got := mergeParts([]storedPart{{pduPart: p}})
		probs := strings.Join(got[0].Problems, "; ")
		if got[0].Text != c.text || !strings.Contains(probs, c.problem) || (c.problem == "" && probs != "") {
			t.Errorf("%s: text %q problems %q, want %q and %q", c.name, got[0].Text, probs, c.text, c.problem)
		}
	}
	p, _ := decodeDeliverPDU(deliverHex(0x04, 0x08, "62314071005040", 2, []byte{0x00, 0x63}))
	if !p.Time.IsZero() || p.RawDate != "26,13,04,17,00,05,+4" {
		t.Errorf("month 13: %v %q", p.Time, p.RawDate)
	}
}

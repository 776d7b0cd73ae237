package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// cyrillic127 is a 127-character Cyrillic text: two UCS-2 parts (70, then 67).
var cyrillic127 = string([]rune(strings.Repeat("Съешь же ещё этих мягких французских булок, да выпей чаю. ", 3))[:127])

const finnish = "Hyvää päivää! Äiti söi jäätelöä ja öljyä."

func TestDecodeContent(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr bool
	}{
		{"empty", "", "", false},
		{"ascii", "00540065007300740020003100320033", "Test 123", false},
		{"lower-case hex", "0074006500730074", "test", false},
		{"emoji surrogate pair", "D83DDE00", "😀", false},
		{"CJK", "4F60597D4E16754C", "你好世界", false},
		{"Arabic, trailing digits", "06450631062D0628062700", "مرحبا\uFFFD", true},
		{"Arabic exact", "06450631062D06280627", "مرحبا", false},
		{"Cyrillic", "041F04400438043204350442", "Привет", false},
		{"odd length", "00410042004", "AB\uFFFD", true},
		{"non-hex", "Hello", "Hello", true},
		{"non-hex with escape", "Hi\x1b[31m", "Hi[31m", true},
		{"lone high surrogate", "D83D0041", "\uFFFDA", true},
		{"lone low surrogate", "DE000041", "\uFFFDA", true},
		{"NUL units", "004100000042", "AB", true},
		{"absurd length", strings.Repeat("0041", maxContentUnits+10), strings.Repeat("A", maxContentUnits), true},
		{"surrounding space", "  0041  ", "A", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeContent(tt.in)
			if got != tt.want {
				t.Errorf("decodeContent(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if (err != nil) != tt.wantErr {
				t.Errorf("decodeContent(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
		})
	}
}

func TestSamplesRoundTrip(t *testing.T) {
	for _, s := range []string{cyrillic127, finnish, "😀👍🏽 ok", "مرحبا بالعالم", "漢字かなカナ"} {
		hex := encodeContent(s)
		if len(hex)%4 != 0 {
			t.Fatalf("encodeContent(%q) has %d hex digits", s, len(hex))
		}
		got, err := decodeContent(hex)
		if err != nil || got != s {
			t.Errorf("round trip %q: got %q, %v", s, got, err)
		}
	}
	if n := utf8.RuneCountInString(cyrillic127); n != 127 {
		t.Fatalf("cyrillic sample has %d characters", n)
	}
}

func TestDecodeNumber(t *testing.T) {
	tests := []struct{ in, want string }{
		{"+358124534", "+358124534"},
		{"1234", "1234"},
		{"TELKOMSEL", "TELKOMSEL"},
		{"00420061006C0061006E00630065000D", "Balance"},
		{"002B003200310036", "+216"},
		{"0021612345678", "0021612345678"},
		{"0049151234567890", "0049151234567890"}, // all hex, 4-aligned, but not ASCII units
		{"00310032", "12"},
		{"+216\x00\x1b123", "+216123"},
		{"  +33 6 12 ", "+33 6 12"},
		{"\xff\xfe", "\uFFFD"},
	}
	for _, tt := range tests {
		if got := decodeNumber(tt.in); got != tt.want {
			t.Errorf("decodeNumber(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEncoding(t *testing.T) {
	tests := []struct {
		text     string
		encoding string
		parts    int
	}{
		{"", "GSM7_default", 1},
		{"pong", "GSM7_default", 1},
		{finnish, "GSM7_default", 1},
		{strings.Repeat("a", 160), "GSM7_default", 1},
		{strings.Repeat("a", 161), "GSM7_default", 2},
		{strings.Repeat("a", 306), "GSM7_default", 2},
		{strings.Repeat("a", 307), "GSM7_default", 3},
		{strings.Repeat("€", 80), "GSM7_default", 1}, // 160 septets
		{strings.Repeat("€", 81), "GSM7_default", 2}, // 162 septets
		{strings.Repeat("[", 77) + "ab", "GSM7_default", 1},
		{"price 5€ {ok}", "GSM7_default", 1},
		{"naïve", "UNICODE", 1}, // ï is in neither GSM table
		{strings.Repeat("я", 70), "UNICODE", 1},
		{strings.Repeat("я", 71), "UNICODE", 2},
		{cyrillic127, "UNICODE", 2},
		{strings.Repeat("я", 134), "UNICODE", 2},
		{strings.Repeat("я", 135), "UNICODE", 3},
		{strings.Repeat("😀", 35), "UNICODE", 1}, // 70 UTF-16 units
		{strings.Repeat("😀", 36), "UNICODE", 2},
	}
	for _, tt := range tests {
		if got := smsEncoding(tt.text); got != tt.encoding {
			t.Errorf("smsEncoding(%.20q) = %s, want %s", tt.text, got, tt.encoding)
		}
		if got := smsParts(tt.text); got != tt.parts {
			t.Errorf("smsParts(%.20q) = %d, want %d", tt.text, got, tt.parts)
		}
	}
}

func TestFitOneSMS(t *testing.T) {
	for _, s := range []string{"short", strings.Repeat("status ok ", 40), strings.Repeat("я", 200), strings.Repeat("€", 100)} {
		got := fitOneSMS(s)
		if smsParts(got) != 1 {
			t.Errorf("fitOneSMS(%.20q) costs %d parts", s, smsParts(got))
		}
		if smsParts(s) == 1 && got != s {
			t.Errorf("fitOneSMS changed a one-part text")
		}
		if smsParts(s) > 1 && smsEncoding(s) != smsEncoding(got) {
			t.Errorf("fitOneSMS changed the encoding of %.20q", s)
		}
	}
}

func TestParseSMSDate(t *testing.T) {
	tests := []struct {
		in      string
		want    string // RFC 3339, empty for an error
		wantOff int
	}{
		{"22,09,17,18,33,25,+12", "2022-09-17T18:33:25+03:00", 3 * 3600},
		{"24,02,29,00,00,00,+0", "2024-02-29T00:00:00Z", 0},
		{"25,01,01,12,00,00,-20", "2025-01-01T12:00:00-05:00", -5 * 3600},
		{"25,06,30,23,59,59,+22", "2025-06-30T23:59:59+05:30", 5*3600 + 1800},
		{"25,06,30,23,59,59,+23", "2025-06-30T23:59:59+05:45", 5*3600 + 2700},
		{"25,06,30,23,59,59,+56", "2025-06-30T23:59:59+14:00", 14 * 3600},
		// In quarter hours +3 would be UTC+0:45, which no zone uses: the
		// firmware wrote hours.
		{"25,06,30,23,59,59,+3", "2025-06-30T23:59:59+03:00", 3 * 3600},
		{"25,06,30,23,59,59,+1", "2025-06-30T23:59:59+01:00", 3600},
		{"25,06,30,23,59,59,+13", "2025-06-30T23:59:59+13:00", 13 * 3600},
		{"25,01,01,12,00,00,-5", "2025-01-01T12:00:00-05:00", -5 * 3600},
		// Real in either unit: quarter hours, as documented (the gateway
		// may read it in hours against the Pi's clock).
		{"25,06,30,23,59,59,+4", "2025-06-30T23:59:59+01:00", 3600},
		{"25,06,30,23,59,59,-10", "2025-06-30T23:59:59-02:30", -2*3600 - 1800},
		// Not a zone in hours: quarter hours, whether real or not.
		{"25,06,30,23,59,59,-14", "2025-06-30T23:59:59-03:30", -3*3600 - 1800},
		{"25,06,30,23,59,59,+15", "2025-06-30T23:59:59+03:45", 3*3600 + 2700},
		{"23,02,29,10,00,00,+4", "", 0},  // not a leap year
		{"25,13,01,10,00,00,+4", "", 0},  // month
		{"25,12,01,24,00,00,+4", "", 0},  // hour
		{"25,12,01,10,60,00,+4", "", 0},  // minute
		{"25,12,01,10,00,00,+60", "", 0}, // zone beyond UTC+14
		{"25,12,01,10,00,00", "", 0},
		{"", "", 0},
		{"aa,bb,cc,dd,ee,ff,gg", "", 0},
		{"125,12,01,10,00,00,+4", "", 0},
		{"-1,12,01,10,00,00,+4", "", 0},
	}
	for _, tt := range tests {
		got, err := parseSMSDate(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("parseSMSDate(%q) = %v, want an error", tt.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseSMSDate(%q): %v", tt.in, err)
			continue
		}
		if s := got.Format(time.RFC3339); s != tt.want {
			t.Errorf("parseSMSDate(%q) = %s, want %s", tt.in, s, tt.want)
		}
		if _, off := got.Zone(); off != tt.wantOff {
			t.Errorf("parseSMSDate(%q) offset %d, want %d", tt.in, off, tt.wantOff)
		}
	}
}

// TestSMSDateReadings: a reading in hours is offered exactly when the zone
// field names a real zone in both units.
func TestSMSDateReadings(t *testing.T) {
	var ambiguous []int
	for z := -48; z <= 56; z++ {
		raw := fmt.Sprintf("25,06,30,12,00,00,%+d", z)
		q, h, err := smsDateReadings(raw)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if h.IsZero() {
			continue
		}
		ambiguous = append(ambiguous, z)
		if _, off := h.Zone(); off != z*3600 {
			t.Errorf("%s read in hours: offset %d", raw, off)
		}
		if _, off := q.Zone(); off != z*900 {
			t.Errorf("%s: offset %d, want quarter hours", raw, off)
		}
	}
	if want := []int{-10, -8, -4, 4, 8, 12}; !slices.Equal(ambiguous, want) {
		t.Errorf("read both ways: %v, want %v", ambiguous, want)
	}
}

func TestFormatSMSTime(t *testing.T) {
	tests := []struct {
		offset int
		want   string
	}{
		{0, "25;03;04;05;06;07;+0"},
		{3 * 3600, "25;03;04;05;06;07;+3"},
		{-5 * 3600, "25;03;04;05;06;07;-5"},
		{5*3600 + 1800, "25;03;04;05;06;07;+5.5"},
		{5*3600 + 2700, "25;03;04;05;06;07;+5.75"},
		{-(3*3600 + 1800), "25;03;04;05;06;07;-3.5"},
	}
	for _, tt := range tests {
		tm := time.Date(2025, 3, 4, 5, 6, 7, 0, time.FixedZone("", tt.offset))
		if got := formatSMSTime(tm); got != tt.want {
			t.Errorf("formatSMSTime(offset %d) = %s, want %s", tt.offset, got, tt.want)
		}
	}
}

func TestNormalizeNumber(t *testing.T) {
	tests := []struct {
		in, cc string
		want   phoneKey
	}{
		{"+216 12 345 678", "", "+21612345678"},
		{"0021612345678", "", "+21612345678"},
		{"+21612345678", "", "+21612345678"},
		{"+216-12-345-678", "", "+21612345678"},
		{"(+216) 12.345.678", "", "@(+216) 12.345.678"}, // '+' not leading: not a number we trust
		{"12345678", "", "#12345678"},
		{"012345678", "", "#012345678"},
		{"012345678", "216", "+21612345678"},
		{"0021612345678", "33", "+21612345678"},
		{"1234", "216", "#1234"},
		{"TELKOMSEL", "", "@telkomsel"},
		{"+216ABC", "", "@+216abc"},
		{"", "", "@"},
	}
	for _, tt := range tests {
		if got := normalizeNumber(tt.in, tt.cc); got != tt.want {
			t.Errorf("normalizeNumber(%q, %q) = %q, want %q", tt.in, tt.cc, got, tt.want)
		}
	}
	if normalizeNumber("+21612345678", "") == normalizeNumber("21612345678", "") {
		t.Error("a bare digit string matched an international number")
	}
}

func FuzzDecodeContent(f *testing.F) {
	for _, s := range []string{"", "0041", "D83DDE00", "D83D", "00410", "zz", strings.Repeat("0000", 3)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		text, err := decodeContent(s)
		if !utf8.ValidString(text) {
			t.Fatalf("decodeContent(%q) returned invalid UTF-8", s)
		}
		if err == nil && len(strings.TrimSpace(s))%4 != 0 {
			t.Fatalf("decodeContent(%q) accepted a partial unit", s)
		}
	})
}

func FuzzDecodeNumber(f *testing.F) {
	for _, s := range []string{"+358124534", "00420061006C", "TELKOMSEL", "\x00\x1b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := decodeNumber(s)
		if !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8 from %q", s)
		}
		for _, r := range got {
			if r < 0x20 && r != '\n' && r != '\t' {
				t.Fatalf("decodeNumber(%q) kept control character %U", s, r)
			}
		}
		k := normalizeNumber(got, "216")
		if k.international() && strings.ContainsFunc(string(k[1:]), func(r rune) bool { return r < '0' || r > '9' }) {
			t.Fatalf("normalizeNumber(%q) = %q", got, k)
		}
	})
}

func FuzzParseSMSDate(f *testing.F) {
	for _, s := range []string{"22,09,17,18,33,25,+12", "24,02,29,00,00,00,-4", ",,,,,,", "99,12,31,23,59,59,+56", "26,03,14,12,00,00,+3", "26,03,14,12,00,00,-10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := parseSMSDate(s)
		if err != nil {
			return
		}
		if tm.Year() < 2000 || tm.Year() > 2099 {
			t.Fatalf("parseSMSDate(%q) = %v", s, tm)
		}
		// Formatting the parsed time back into the modem's form gives an
		// equivalent date: nothing was invented or lost.
		_, off := tm.Zone()
		again := fmt.Sprintf("%02d,%02d,%02d,%02d,%02d,%02d,%+d", tm.Year()%100, int(tm.Month()), tm.Day(),
			tm.Hour(), tm.Minute(), tm.Second(), off/900)
		tm2, err := parseSMSDate(again)
		if err != nil || !tm2.Equal(tm) {
			t.Fatalf("parseSMSDate(%q) = %v; re-parsing %q gave %v, %v", s, tm, again, tm2, err)
		}
		// The other reading differs only in the zone: the same wall clock,
		// the field taken as hours.
		q, h, err := smsDateReadings(s)
		if err != nil || !q.Equal(tm) {
			t.Fatalf("smsDateReadings(%q) = %v, %v; parseSMSDate gave %v", s, q, err, tm)
		}
		if !h.IsZero() {
			_, qo := q.Zone()
			_, ho := h.Zone()
			if ho != qo*4 || !h.Add(time.Duration(ho-qo)*time.Second).Equal(q) {
				t.Fatalf("smsDateReadings(%q) = %v, %v: not the same wall clock in hours", s, q, h)
			}
		}
	})
}

func FuzzContentRoundTrip(f *testing.F) {
	for _, s := range []string{"", "pong", finnish, cyrillic127, "😀", "\u0000x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
			return // not a valid text; NUL units are dropped on purpose
		}
		if len(utf16.Encode([]rune(s))) > maxContentUnits {
			return // longer than any record; truncated by design
		}
		// What could fool a terminal is dropped on the way in.
		got, err := decodeContent(encodeContent(s))
		if err != nil || got != sanitizeText(s) {
			t.Fatalf("round trip %q: got %q, %v", s, got, err)
		}
		if smsEncoding(s) == "GSM7_default" {
			if _, ok := gsmSeptets(s); !ok {
				t.Fatalf("%q marked GSM-7 but has a non-GSM character", s)
			}
		}
		parts := smsParts(s)
		if parts < 1 {
			t.Fatalf("smsParts(%q) = %d", s, parts)
		}
	})
}

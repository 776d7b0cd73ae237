package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// maxContentUnits bounds what one record may decode to. The web UI caps a
// text at 765 GSM-7 characters; a merged record of many parts stays far below
// this, so anything longer is a defect, not a message.
const maxContentUnits = 4096

var errCodec = errors.New("malformed")

// decodeContent turns the modem's UTF-16BE hex into text. It always returns
// the most readable text it can, with U+FFFD where the input is broken, and a
// non-nil error describing what was wrong so the caller can log it.
func decodeContent(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if !isHex(s) {
		// Some firmware stores text verbatim; showing it beats showing nothing.
		return sanitizeText(s), fmt.Errorf("content is not hex: %w", errCodec)
	}
	var problems []string
	if len(s)/4 > maxContentUnits {
		s = s[:maxContentUnits*4]
		problems = append(problems, fmt.Sprintf("longer than %d units, truncated", maxContentUnits))
	}
	units := make([]uint16, 0, len(s)/4)
	nul := false
	for i := 0; i+4 <= len(s); i += 4 {
		u, _ := strconv.ParseUint(s[i:i+4], 16, 16)
		if u == 0 {
			nul = true
			continue
		}
		units = append(units, uint16(u))
	}
	if nul {
		problems = append(problems, "NUL units dropped")
	}
	if rem := len(s) % 4; rem != 0 {
		problems = append(problems, fmt.Sprintf("%d trailing hex digits", rem))
	}
	runes := utf16.Decode(units)
	for i, u := range units {
		if utf16.IsSurrogate(rune(u)) {
			paired := (u < 0xDC00 && i+1 < len(units) && units[i+1] >= 0xDC00 && units[i+1] <= 0xDFFF) ||
				(u >= 0xDC00 && i > 0 && units[i-1] >= 0xD800 && units[i-1] < 0xDC00)
			if !paired {
				problems = append(problems, "lone surrogate")
				break
			}
		}
	}
	// Sanitised like any other text: the hex form hides what it holds.
	text := sanitizeText(string(runes))
	if len(s)%4 != 0 {
		text += "\uFFFD"
	}
	if problems != nil {
		return text, fmt.Errorf("content: %s: %w", strings.Join(problems, ", "), errCodec)
	}
	return text, nil
}

// encodeContent is the inverse of decodeContent: UTF-16BE as upper-case hex.
func encodeContent(text string) string {
	units := utf16.Encode([]rune(text))
	var b strings.Builder
	b.Grow(len(units) * 4)
	for _, u := range units {
		fmt.Fprintf(&b, "%04X", u)
	}
	return b.String()
}

// decodeNumber turns the modem's sender field into something printable. Some
// firmware sends the sender as UTF-16BE hex ("00420061..." = "Ba..."); that
// form is taken only when every unit is printable ASCII, so a plain numeric
// sender is never mistaken for hex.
func decodeNumber(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 8 && len(s)%4 == 0 && isHex(s) {
		var b strings.Builder
		ascii := true
		for i := 0; i < len(s); i += 4 {
			u, _ := strconv.ParseUint(s[i:i+4], 16, 16)
			if u > 0x7E || (u < 0x20 && u != '\r' && u != '\n') {
				ascii = false
				break
			}
			b.WriteByte(byte(u))
		}
		if ascii {
			s = b.String()
		}
	}
	return strings.TrimSpace(sanitizeText(s))
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// sanitizeText drops what could fool a terminal or a reader of the log:
// C0 and C1 controls (keeping line breaks and tabs; U+009B is an 8-bit
// CSI, U+0085 a line break), bidi overrides and isolates (U+202A-U+202E,
// U+2066-U+2069) and every other format character, line and paragraph
// separators, and invalid UTF-8. Zero-width (non-)joiners stay: emoji and
// several scripts need them, and they cannot reorder text.
func sanitizeText(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if unsafeRune(r) {
			return -1
		}
		return r
	}, s)
}

// unsafeRune is a character sanitizeText drops.
func unsafeRune(r rune) bool {
	switch {
	case r == '\u200C' || r == '\u200D':
		return false
	case unicode.IsControl(r), unicode.Is(unicode.Cf, r), unicode.Is(unicode.Zl, r), unicode.Is(unicode.Zp, r):
		return true
	}
	return false
}

// parseCountryCode reads -country-code as people write it: 216, +216 or
// 00216. Anything else is refused, never silently ignored: a wrong code
// would stop national numbers from matching.
func parseCountryCode(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	d, ok := strings.CutPrefix(s, "+")
	if !ok {
		d = strings.TrimPrefix(s, "00")
	}
	valid := len(d) >= 1 && len(d) <= 3 && d[0] != '0'
	for _, c := range d {
		valid = valid && c >= '0' && c <= '9'
	}
	if !valid {
		return "", fmt.Errorf("-country-code %q: want a country calling code, like 216 or +216", s)
	}
	return d, nil
}

// GSM 03.38 default alphabet and its extension table (each extension
// character costs two septets).
const (
	gsmBasic     = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsmExtension = "\f^{}\\[~]|€"
)

var gsmBasicSet, gsmExtSet = runeSet(gsmBasic), runeSet(gsmExtension)

func runeSet(s string) map[rune]bool {
	m := make(map[rune]bool, len(s))
	for _, r := range s {
		m[r] = true
	}
	return m
}

// gsmSeptets counts the septets text needs in GSM-7, or reports false when a
// character is outside both GSM tables.
func gsmSeptets(text string) (int, bool) {
	n := 0
	for _, r := range text {
		switch {
		case gsmBasicSet[r]:
			n++
		case gsmExtSet[r]:
			n += 2
		default:
			return 0, false
		}
	}
	return n, true
}

// smsEncoding is the modem's encode_type for an outgoing text.
func smsEncoding(text string) string {
	if _, ok := gsmSeptets(text); ok {
		return "GSM7_default"
	}
	return "UNICODE"
}

// smsParts is how many SMS a text costs: 160 septets in one part, 153 per part
// when concatenated; 70 UCS-2 units, 67 per part.
func smsParts(text string) int {
	if text == "" {
		return 1
	}
	if n, ok := gsmSeptets(text); ok {
		return partsFor(n, 160, 153)
	}
	return partsFor(len(utf16.Encode([]rune(text))), 70, 67)
}

func partsFor(n, single, multi int) int {
	if n <= single {
		return 1
	}
	return (n + multi - 1) / multi
}

// fitOneSMS shortens text, if needed, so that it costs a single part, marking
// the cut with "…" (or "..." when the text is GSM-7, to stay GSM-7).
func fitOneSMS(text string) string {
	if smsParts(text) == 1 {
		return text
	}
	ellipsis := "…"
	if _, ok := gsmSeptets(text); ok {
		ellipsis = "..."
	}
	runes := []rune(text)
	lo, hi := 0, len(runes)
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if smsParts(string(runes[:mid])+ellipsis) == 1 {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return string(runes[:lo]) + ellipsis
}

// parseSMSDate reads the modem's "yy,MM,dd,HH,mm,ss,±Z". Z is the zone
// offset, documented in quarter hours (+12 = UTC+3), but some firmware
// writes it in hours (+3 = UTC+3). A Z that names no zone in quarter hours
// but one in hours (+3 would be UTC+0:45) is read in hours; every other Z
// in quarter hours. An implausible value is an error, never a guess.
func parseSMSDate(s string) (time.Time, error) {
	t, _, err := smsDateReadings(s)
	return t, err
}

// smsDateReadings is parseSMSDate's reading and, when Z names a real zone
// in either unit (+4, +8, +12, -4, -8, -10), the reading in hours, which
// only a clock can tell apart (zero otherwise).
func smsDateReadings(s string) (t, inHours time.Time, err error) {
	f := strings.Split(strings.TrimSpace(s), ",")
	if len(f) != 7 {
		return time.Time{}, time.Time{}, fmt.Errorf("sms date %q: want 7 fields, got %d", s, len(f))
	}
	var v [6]int
	for i := 0; i < 6; i++ {
		n, err := strconv.Atoi(strings.TrimSpace(f[i]))
		if err != nil || n < 0 {
			return time.Time{}, time.Time{}, fmt.Errorf("sms date %q: field %d: %w", s, i+1, errCodec)
		}
		v[i] = n
	}
	z, err := strconv.Atoi(strings.TrimSpace(f[6]))
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("sms date %q: zone: %w", s, errCodec)
	}
	year, month, day, hour, minute, sec := v[0], v[1], v[2], v[3], v[4], v[5]
	if year > 99 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, time.Time{}, fmt.Errorf("sms date %q: out of range: %w", s, errCodec)
	}
	// Real zones lie between UTC-12 and UTC+14.
	if z < -48 || z > 56 {
		return time.Time{}, time.Time{}, fmt.Errorf("sms date %q: zone %d quarter hours: %w", s, z, errCodec)
	}
	at := func(offset int) time.Time {
		return time.Date(2000+year, time.Month(month), day, hour, minute, sec, 0, time.FixedZone(formatZone(offset), offset))
	}
	// -12 and +14 are left out: in hours they name zones almost nobody
	// lives in (UTC-12, UTC+14), in quarter hours UTC-3 and UTC+3:30.
	hoursOK := z != 0 && z > -12 && z < 14
	switch {
	case hoursOK && !realQuarterZone(z):
		t = at(z * 3600)
	case hoursOK:
		t, inHours = at(z*15*60), at(z*3600)
	default:
		t = at(z * 15 * 60)
	}
	if t.Day() != day {
		return time.Time{}, time.Time{}, fmt.Errorf("sms date %q: no day %d in month %d: %w", s, day, month, errCodec)
	}
	return t, inHours, nil
}

// realQuarterZone reports whether z quarter hours is an offset some zone
// uses (tz database, 2025): whole hours, and the few half and three-quarter
// hours below.
func realQuarterZone(z int) bool {
	switch z {
	case -38, -14, -10, // -9:30 Marquesas, -3:30 and -2:30 Newfoundland
		14, 18, 22, 23, 26, // +3:30 Iran, +4:30 Afghanistan, +5:30 India, +5:45 Nepal, +6:30 Myanmar
		35, 38, 42, 51, 55: // +8:45 Eucla, +9:30 and +10:30 Australia, +12:45 and +13:45 Chatham
		return true
	}
	return z%4 == 0
}

func formatZone(offsetSeconds int) string {
	sign := '+'
	if offsetSeconds < 0 {
		sign = '-'
		offsetSeconds = -offsetSeconds
	}
	return fmt.Sprintf("UTC%c%02d:%02d", sign, offsetSeconds/3600, offsetSeconds/60%60)
}

// formatSMSTime renders the sms_time field of SEND_SMS: "yy;MM;dd;HH;mm;ss;±H"
// with the zone in hours, fractional where the zone is (+5.5, +5.75).
func formatSMSTime(t time.Time) string {
	_, off := t.Zone()
	hours := strconv.FormatFloat(math.Abs(float64(off))/3600, 'f', -1, 64)
	sign := "+"
	if off < 0 {
		sign = "-"
	}
	return fmt.Sprintf("%02d;%02d;%02d;%02d;%02d;%02d;%s%s",
		t.Year()%100, int(t.Month()), t.Day(), t.Hour(), t.Minute(), t.Second(), sign, hours)
}

// phoneKey is a sender or allowlist entry reduced to a comparable form:
// "+<digits>" for an international number, "#<digits>" for a number whose
// country is unknown (a short code, or a national number without
// -country-code), "@<text>" for an alphanumeric sender. Only equal keys match,
// so an alphanumeric sender never matches a number.
type phoneKey string

// normalizeNumber reduces a number to its phoneKey. countryCode is digits
// only ("216"), or empty when none is configured.
func normalizeNumber(s, countryCode string) phoneKey {
	s = strings.TrimSpace(s)
	var digits strings.Builder
	plus := false
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits.WriteRune(r)
		case r == '+' && i == 0:
			plus = true
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')' || r == '/':
		default:
			return phoneKey("@" + strings.ToLower(sanitizeText(s)))
		}
	}
	d := digits.String()
	switch {
	case d == "":
		return phoneKey("@" + strings.ToLower(sanitizeText(s)))
	case plus:
		return phoneKey("+" + d)
	case strings.HasPrefix(d, "00") && len(d) > 4:
		return phoneKey("+" + d[2:])
	case strings.HasPrefix(d, "0") && countryCode != "" && len(d) > 4:
		return phoneKey("+" + countryCode + d[1:])
	}
	return phoneKey("#" + d)
}

func (k phoneKey) international() bool { return strings.HasPrefix(string(k), "+") }

package main

// PDU mode SMS (3GPP TS 23.040 TPDUs, TS 23.038 alphabets) for the AT
// family: SMS-DELIVER decode with concatenation, SMS-SUBMIT encode. Own code
// rather than github.com/warthog618/sms: see the commit that added it.

import (
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

var errPDU = errors.New("malformed pdu")

// Alphabets of the TP-DCS (TS 23.038 section 4).
const (
	alphaGSM7 = iota
	alpha8bit
	alphaUCS2
)

// gsmDecode is the default alphabet by code, with ESC (0x1B) at its place;
// gsmBasic (codec.go) lists it without ESC. gsmExtDecode is the extension
// table reached through ESC.
var gsmDecode, gsmExtDecode = gsmTables()

func gsmTables() ([128]rune, map[byte]rune) {
	var basic [128]rune
	code := 0
	for _, r := range gsmBasic {
		if code == 0x1B {
			basic[code] = 0x1B
			code++
		}
		basic[code] = r
		code++
	}
	ext := map[byte]rune{}
	for i, c := range []byte{0x0A, 0x14, 0x28, 0x29, 0x2F, 0x3C, 0x3D, 0x3E, 0x40, 0x65} {
		ext[c] = []rune(gsmExtension)[i]
	}
	return basic, ext
}

// concatInfo is a concatenation information element (IEI 0x00 with an
// 8-bit reference, 0x08 with a 16-bit one).
type concatInfo struct {
	ref     uint16
	wide    bool // 16-bit reference
	total   int
	seq     int
	present bool
}

// pduPart is one stored SMS-DELIVER, decoded up to its user data units
// (septets for GSM-7, octets otherwise), so that parts are joined before
// their text is decoded: a character split across parts comes out whole.
type pduPart struct {
	From     string
	Time     time.Time // zero when the timestamp is not a date
	RawDate  string    // "yy,MM,dd,HH,mm,ss,±q", q in quarter hours
	alphabet int
	units    []byte
	concat   concatInfo
	problems []string
}

// pduReader walks a byte slice and fails once, instead of at every read.
type pduReader struct {
	b   []byte
	err error
}

func (r *pduReader) take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = fmt.Errorf("%s: want %d octets, %d left: %w", what, n, len(r.b), errPDU)
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *pduReader) octet(what string) byte {
	v := r.take(1, what)
	if v == nil {
		return 0
	}
	return v[0]
}

// decodeDeliverPDU reads what AT+CMGR/AT+CMGL give in PDU mode: the SMSC
// address field, then the TPDU. Anything but an SMS-DELIVER is an error.
func decodeDeliverPDU(s string) (pduPart, error) {
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return pduPart{}, fmt.Errorf("pdu hex: %w", errPDU)
	}
	r := &pduReader{b: b}
	r.take(int(r.octet("smsc length")), "smsc address")
	first := r.octet("first octet")
	if r.err == nil && first&0x03 != 0 {
		return pduPart{}, fmt.Errorf("message type %d is not SMS-DELIVER: %w", first&0x03, errPDU)
	}
	var p pduPart
	p.From = readAddress(r)
	r.octet("pid")
	dcs := r.octet("dcs")
	p.Time, p.RawDate = readSCTS(r.take(7, "timestamp"))
	udl := int(r.octet("udl"))
	if r.err != nil {
		return pduPart{}, r.err
	}
	if p.Time.IsZero() {
		p.problems = append(p.problems, "timestamp is not a date")
	}
	var compressed bool
	p.alphabet, compressed = dcsAlphabet(dcs)
	if compressed {
		p.problems = append(p.problems, "compressed text (not supported)")
	}
	if err := p.readUserData(r.b, udl, first&0x40 != 0); err != nil {
		return pduPart{}, err
	}
	return p, nil
}

// readAddress reads a TP-OA: digits in swapped semi-octets, "+" for an
// international number, GSM-7 for an alphanumeric sender.
func readAddress(r *pduReader) string {
	n := int(r.octet("address length")) // semi-octets
	toa := r.octet("address type")
	v := r.take((n+1)/2, "address")
	if r.err != nil {
		return ""
	}
	if toa&0x70 == 0x50 {
		return gsmText(unpackSeptets(v, n*4/7))
	}
	var sb strings.Builder
	if toa&0x70 == 0x10 {
		sb.WriteByte('+')
	}
	for i := 0; i < n; i++ {
		d := v[i/2] >> (4 * (i % 2)) & 0x0F
		sb.WriteByte("0123456789*#abc?"[d])
	}
	return sb.String()
}

// readSCTS reads the service centre timestamp: swapped BCD, the zone in
// quarter hours with its sign in bit 3.
func readSCTS(b []byte) (time.Time, string) {
	if len(b) != 7 {
		return time.Time{}, ""
	}
	var v [6]int
	for i := 0; i < 6; i++ {
		lo, hi := int(b[i]&0x0F), int(b[i]>>4)
		if lo > 9 || hi > 9 {
			return time.Time{}, ""
		}
		v[i] = lo*10 + hi
	}
	lo, hi := int(b[6]&0x0F), int(b[6]>>4)
	if lo&7 > 9 || hi > 9 {
		return time.Time{}, ""
	}
	q := (lo&7)*10 + hi
	if lo&8 != 0 {
		q = -q
	}
	raw := fmt.Sprintf("%02d,%02d,%02d,%02d,%02d,%02d,%+d", v[0], v[1], v[2], v[3], v[4], v[5], q)
	if v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 59 || q > 56 || q < -48 {
		return time.Time{}, raw
	}
	// The timestamp has no century: 90-99 are read as the 1990s, so that
	// a bogus one is too old to act on rather than in the future.
	year := 2000 + v[0]
	if v[0] >= 90 {
		year -= 100
	}
	t := time.Date(year, time.Month(v[1]), v[2], v[3], v[4], v[5], 0, time.FixedZone("", q*15*60))
	if t.Day() != v[2] { // 31 February
		return time.Time{}, raw
	}
	return t, raw
}

// dcsAlphabet reads TP-DCS (TS 23.038 section 4); reserved codings are read
// as GSM-7, as the standard says a receiver should.
func dcsAlphabet(dcs byte) (alphabet int, compressed bool) {
	switch {
	case dcs&0xC0 == 0x00 || dcs&0xC0 == 0x40: // general, or marked for deletion
		switch dcs >> 2 & 0x03 {
		case 1:
			return alpha8bit, dcs&0x20 != 0
		case 2:
			return alphaUCS2, dcs&0x20 != 0
		}
		return alphaGSM7, dcs&0x20 != 0
	case dcs&0xF0 == 0xE0: // message waiting, UCS2
		return alphaUCS2, false
	case dcs&0xF0 == 0xF0: // data coding / message class
		if dcs&0x04 != 0 {
			return alpha8bit, false
		}
	}
	return alphaGSM7, false
}

// readUserData reads the UDH, if any, and keeps the text's units.
func (p *pduPart) readUserData(ud []byte, udl int, hasUDH bool) error {
	octets := udl
	if p.alphabet == alphaGSM7 {
		octets = (udl*7 + 7) / 8
	}
	if octets > len(ud) {
		return fmt.Errorf("user data: length %d wants %d octets, %d there: %w", udl, octets, len(ud), errPDU)
	}
	ud = ud[:octets]
	headerOctets := 0
	if hasUDH {
		if len(ud) == 0 || int(ud[0])+1 > len(ud) {
			return fmt.Errorf("user data header longer than the user data: %w", errPDU)
		}
		headerOctets = int(ud[0]) + 1
		p.readHeader(ud[1:headerOctets])
	}
	if p.alphabet != alphaGSM7 {
		p.units = append([]byte(nil), ud[headerOctets:]...)
		return nil
	}
	skip := (headerOctets*8 + 6) / 7
	if skip > udl {
		return fmt.Errorf("user data header longer than the user data: %w", errPDU)
	}
	p.units = unpackSeptets(ud, udl)[skip:]
	return nil
}

// readHeader reads the information elements the text depends on; others
// are skipped.
func (p *pduPart) readHeader(h []byte) {
	for len(h) >= 2 {
		iei, n := h[0], int(h[1])
		if 2+n > len(h) {
			p.problems = append(p.problems, "user data header cut short")
			return
		}
		v := h[2 : 2+n]
		switch {
		case iei == 0x00 && n == 3:
			p.concat = concatInfo{ref: uint16(v[0]), total: int(v[1]), seq: int(v[2]), present: true}
		case iei == 0x08 && n == 4:
			p.concat = concatInfo{ref: uint16(v[0])<<8 | uint16(v[1]), wide: true, total: int(v[2]), seq: int(v[3]), present: true}
		case (iei == 0x24 || iei == 0x25) && n == 1:
			kind := map[byte]string{0x24: "single", 0x25: "locking"}[iei]
			p.problems = append(p.problems, fmt.Sprintf("national language %s shift table %d not supported: read with the default alphabet", kind, v[0]))
		}
		h = h[2+n:]
	}
	if c := p.concat; c.present && (c.total == 0 || c.seq == 0 || c.seq > c.total) {
		p.problems = append(p.problems, fmt.Sprintf("concatenation part %d of %d: read as a whole message", c.seq, c.total))
		p.concat = concatInfo{}
	}
}

// unpackSeptets reads n septets packed LSB first (TS 23.038 6.1.2.1.1).
func unpackSeptets(b []byte, n int) []byte {
	if n > len(b)*8/7 {
		n = len(b) * 8 / 7
	}
	out := make([]byte, n)
	for i := range out {
		bit := i * 7
		v := uint16(b[bit/8])
		if bit/8+1 < len(b) {
			v |= uint16(b[bit/8+1]) << 8
		}
		out[i] = byte(v>>(bit%8)) & 0x7F
	}
	return out
}

// gsmText decodes septets. An escape to a code the extension table lacks
// shows the default table's character, as TS 23.038 6.2.1.1 says.
func gsmText(septets []byte) string {
	var sb strings.Builder
	for i := 0; i < len(septets); i++ {
		c := septets[i] & 0x7F
		if c != 0x1B {
			sb.WriteRune(gsmDecode[c])
			continue
		}
		if i+1 >= len(septets) {
			break // a lone escape at the end: nothing to show
		}
		i++
		n := septets[i] & 0x7F
		if r, ok := gsmExtDecode[n]; ok {
			sb.WriteRune(r)
		} else if n != 0x1B {
			sb.WriteRune(gsmDecode[n])
		}
	}
	return sb.String()
}

// decodeUnits turns a text's units into a string, saying what was wrong.
func decodeUnits(alphabet int, units []byte) (string, []string) {
	switch alphabet {
	case alphaUCS2:
		var problems []string
		if len(units)%2 != 0 {
			problems = append(problems, "UCS2 text of an odd length")
			units = units[:len(units)-1]
		}
		u := make([]uint16, len(units)/2)
		for i := range u {
			u[i] = uint16(units[2*i])<<8 | uint16(units[2*i+1])
		}
		return string(utf16.Decode(u)), problems
	case alpha8bit:
		if utf8.Valid(units) {
			return string(units), []string{"8-bit data, read as UTF-8"}
		}
		return strings.ToUpper(hex.EncodeToString(units)), []string{"8-bit data, shown in hex"}
	}
	return gsmText(units), nil
}

// storedPart is a part as the store lists it: its index and status too.
type storedPart struct {
	Index int
	Read  bool
	PDU   string // as listed, to check the index still holds it
	pduPart
}

// inboxMessage is a message merged from its stored parts.
type inboxMessage struct {
	Parts    []storedPart // every index that belongs to it, part order
	Text     string
	Complete bool
	Problems []string
}

// mergeParts joins concatenated parts by sender, reference and count, in
// part order whatever the index order; a message missing a part is
// returned incomplete with what arrived. The result is in index order of
// each message's lowest index.
func mergeParts(parts []storedPart) []inboxMessage {
	type key struct {
		from  string
		ref   uint16
		wide  bool
		total int
	}
	groups := map[key][]storedPart{}
	var order []key
	var out []inboxMessage
	for _, p := range parts {
		if !p.concat.present || p.concat.total == 1 {
			text, probs := decodeUnits(p.alphabet, p.units)
			out = append(out, inboxMessage{Parts: []storedPart{p}, Text: text, Complete: true, Problems: append(append([]string(nil), p.problems...), probs...)})
			continue
		}
		k := key{p.From, p.concat.ref, p.concat.wide, p.concat.total}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], p)
	}
	for _, k := range order {
		out = append(out, joinGroup(groups[k], k.total))
	}
	sort.SliceStable(out, func(i, j int) bool { return lowestIndex(out[i]) < lowestIndex(out[j]) })
	return out
}

func lowestIndex(m inboxMessage) int {
	lo := m.Parts[0].Index
	for _, p := range m.Parts {
		lo = min(lo, p.Index)
	}
	return lo
}

// joinGroup joins one message's parts. A part that came twice is listed
// (so that deleting the message deletes it) but read once.
func joinGroup(ps []storedPart, total int) inboxMessage {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].concat.seq < ps[j].concat.seq })
	m := inboxMessage{Parts: ps}
	var used []storedPart
	seen := map[int]bool{}
	for _, p := range ps {
		if !seen[p.concat.seq] {
			seen[p.concat.seq] = true
			used = append(used, p)
			m.Problems = append(m.Problems, p.problems...)
		}
	}
	m.Complete = len(used) == total
	same := true
	for _, p := range used {
		same = same && p.alphabet == used[0].alphabet
	}
	var sb strings.Builder
	if same {
		var units []byte
		for _, p := range used {
			units = append(units, p.units...)
		}
		text, probs := decodeUnits(used[0].alphabet, units)
		sb.WriteString(text)
		m.Problems = append(m.Problems, probs...)
	} else {
		for _, p := range used {
			text, probs := decodeUnits(p.alphabet, p.units)
			sb.WriteString(text)
			m.Problems = append(m.Problems, probs...)
		}
	}
	m.Text = sb.String()
	if !m.Complete {
		m.Problems = append(m.Problems, fmt.Sprintf("%d of %d parts", len(used), total))
	}
	return m
}

// submitPDU is one SMS-SUBMIT ready for AT+CMGS: its hex with the default
// SMSC field ("00") in front, and the TPDU length AT+CMGS wants (the SMSC
// field not counted).
type submitPDU struct {
	Hex    string
	Length int
}

var errTooLong = errors.New("text longer than the parts allowed")

// encodeSubmit encodes text for number, in GSM-7 when every character is in
// its tables, UCS2 otherwise. A text longer than one SMS is split into
// concatenated parts (8-bit reference ref) only up to maxParts; beyond, it
// is an error, never a silent cut.
func encodeSubmit(number, text string, ref byte, maxParts int) ([]submitPDU, error) {
	da, err := encodeAddress(number)
	if err != nil {
		return nil, err
	}
	var chunks [][]byte
	dcs := byte(0x00)
	if septets, ok := gsmEncode(text); ok {
		chunks = splitUnits(septets, 160, 153, func(u []byte, i int) bool { return i > 0 && u[i-1] == 0x1B })
	} else {
		dcs = 0x08
		var units []byte
		for _, u := range utf16.Encode([]rune(text)) {
			units = append(units, byte(u>>8), byte(u))
		}
		// 2 octets a unit; never split a surrogate pair.
		chunks = splitUnits(units, 140, 134, func(u []byte, i int) bool {
			return i%2 != 0 || (i >= 2 && u[i-2]&0xFC == 0xD8)
		})
	}
	if len(chunks) > maxParts || len(chunks) > 255 {
		return nil, fmt.Errorf("send to %s: %d parts, %d allowed: %w", number, len(chunks), maxParts, errTooLong)
	}
	out := make([]submitPDU, 0, len(chunks))
	for i, c := range chunks {
		var udh []byte
		if len(chunks) > 1 {
			udh = []byte{0x05, 0x00, 0x03, ref, byte(len(chunks)), byte(i + 1)}
		}
		tpdu := []byte{0x01, 0x00}
		if udh != nil {
			tpdu[0] |= 0x40
		}
		tpdu = append(tpdu, da...)
		tpdu = append(tpdu, 0x00, dcs)
		if dcs == 0x00 {
			skip := (len(udh)*8 + 6) / 7
			packed := packSeptets(append(make([]byte, skip), c...))
			copy(packed, udh)
			tpdu = append(tpdu, byte(skip+len(c)))
			tpdu = append(tpdu, packed...)
		} else {
			tpdu = append(tpdu, byte(len(udh)+len(c)))
			tpdu = append(tpdu, udh...)
			tpdu = append(tpdu, c...)
		}
		out = append(out, submitPDU{Hex: "00" + strings.ToUpper(hex.EncodeToString(tpdu)), Length: len(tpdu)})
	}
	return out, nil
}

// splitUnits cuts units into one chunk of single, or chunks of multi;
// inside(u, i) says a cut before i would split a character.
func splitUnits(u []byte, single, multi int, inside func(u []byte, i int) bool) [][]byte {
	if len(u) <= single {
		return [][]byte{u}
	}
	var out [][]byte
	for len(u) > 0 {
		n := min(multi, len(u))
		for n < len(u) && n > 1 && inside(u, n) {
			n--
		}
		out = append(out, u[:n])
		u = u[n:]
	}
	return out
}

// encodeAddress writes a TP-DA: "+" makes it international.
func encodeAddress(number string) ([]byte, error) {
	n := strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(number))
	toa := byte(0x81)
	if d, ok := strings.CutPrefix(n, "+"); ok {
		n, toa = d, 0x91
	}
	if n == "" || len(n) > 20 {
		return nil, fmt.Errorf("send to %q: not a phone number", number)
	}
	out := []byte{byte(len(n)), toa}
	for i := 0; i < len(n); i += 2 {
		lo := strings.IndexByte("0123456789*#", n[i])
		hi := 0x0F
		if i+1 < len(n) {
			hi = strings.IndexByte("0123456789*#", n[i+1])
		}
		if lo < 0 || hi < 0 {
			return nil, fmt.Errorf("send to %q: not a phone number", number)
		}
		out = append(out, byte(hi<<4|lo))
	}
	return out, nil
}

// gsmEncode maps text to septets, or says it is not all GSM-7.
func gsmEncode(text string) ([]byte, bool) {
	var out []byte
	for _, r := range text {
		c, ok := gsmEncodeTable[r]
		if !ok {
			return nil, false
		}
		if c >= 0x100 {
			out = append(out, 0x1B, byte(c))
		} else {
			out = append(out, byte(c))
		}
	}
	return out, true
}

// gsmEncodeTable maps a rune to its code; extension codes have 0x100 added.
var gsmEncodeTable = func() map[rune]int {
	m := map[rune]int{}
	for c, r := range gsmDecode {
		if c != 0x1B {
			m[r] = c
		}
	}
	for c, r := range gsmExtDecode {
		m[r] = 0x100 | int(c)
	}
	return m
}()

// packSeptets packs septets LSB first.
func packSeptets(s []byte) []byte {
	out := make([]byte, (len(s)*7+7)/8)
	for i, c := range s {
		bit := i * 7
		v := uint16(c&0x7F) << (bit % 8)
		out[bit/8] |= byte(v)
		if bit/8+1 < len(out) {
			out[bit/8+1] |= byte(v >> 8)
		}
	}
	return out
}

package main

// Parsers of AT answers and URCs (TS 27.005, TS 27.007): each takes what
// the module sent, outside input, and never panics on it.

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
)

// atFields splits the parameters after "+XXX: " on commas outside quotes,
// and unquotes them.
func atFields(line string) []string {
	_, rest, ok := strings.Cut(line, ":")
	if !ok {
		return nil
	}
	var out []string
	var cur strings.Builder
	quoted := false
	for _, r := range rest {
		switch {
		case r == '"':
			quoted = !quoted
		case r == ',' && !quoted:
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteRune(r)
		}
	}
	return append(out, strings.TrimSpace(cur.String()))
}

// cmglEntry is one stored message of an AT+CMGL=4 (or AT+CMGR) answer.
type cmglEntry struct {
	Index int
	Stat  int // 0 unread, 1 read, 2 unsent, 3 sent
	PDU   string
}

// parseCMGL reads a PDU-mode listing: "+CMGL: <index>,<stat>,[<alpha>],<length>"
// each followed by its PDU line. A header without a PDU, or a PDU that is
// not hex, is reported and skipped; the others still count.
func parseCMGL(lines []string) ([]cmglEntry, []string) {
	var out []cmglEntry
	var problems []string
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(strings.ToUpper(lines[i]), "+CMGL:") {
			problems = append(problems, fmt.Sprintf("unexpected line %q", clip(lines[i], 60)))
			continue
		}
		f := atFields(lines[i])
		var e cmglEntry
		var err1, err2 error
		if len(f) >= 2 {
			e.Index, err1 = strconv.Atoi(f[0])
			e.Stat, err2 = strconv.Atoi(f[1])
		}
		if len(f) < 2 || err1 != nil || err2 != nil || e.Index < 0 || e.Index > 99999 {
			problems = append(problems, fmt.Sprintf("bad listing header %q", clip(lines[i], 60)))
			continue
		}
		if i+1 >= len(lines) || strings.HasPrefix(strings.ToUpper(lines[i+1]), "+CMGL:") {
			problems = append(problems, fmt.Sprintf("index %d: no PDU line", e.Index))
			continue
		}
		i++
		e.PDU = strings.TrimSpace(lines[i])
		if _, err := hex.DecodeString(e.PDU); err != nil || e.PDU == "" {
			problems = append(problems, fmt.Sprintf("index %d: PDU is not hex", e.Index))
			continue
		}
		out = append(out, e)
	}
	return out, problems
}

// parseCMGR reads an AT+CMGR answer: "+CMGR: <stat>,[<alpha>],<length>" and
// the PDU. ok is false when the index holds nothing (some modules answer
// a bare OK).
func parseCMGR(lines []string) (stat int, pdu string, ok bool) {
	for i, l := range lines {
		if !strings.HasPrefix(strings.ToUpper(l), "+CMGR:") || i+1 >= len(lines) {
			continue
		}
		f := atFields(l)
		s, err := strconv.Atoi(f[0])
		if err != nil {
			return 0, "", false
		}
		return s, strings.TrimSpace(lines[i+1]), true
	}
	return 0, "", false
}

// storeUse is one store of an AT+CPMS answer.
type storeUse struct {
	Name        string
	Used, Total int
}

// parseCPMS reads "+CPMS: "ME",3,255,"ME",3,255,"ME",3,255" (the query)
// or "+CPMS: 3,255,3,255,3,255" (the answer to a set, without names).
func parseCPMS(line string) []storeUse {
	f := atFields(line)
	var out []storeUse
	named := len(f)%3 == 0 && len(f) > 0 && !isDigits(f[0])
	step := 2
	if named {
		step = 3
	}
	for i := 0; i+step <= len(f); i += step {
		var s storeUse
		var err1, err2 error
		if named {
			s.Name = f[i]
			s.Used, err1 = strconv.Atoi(f[i+1])
			s.Total, err2 = strconv.Atoi(f[i+2])
		} else {
			s.Used, err1 = strconv.Atoi(f[i])
			s.Total, err2 = strconv.Atoi(f[i+1])
		}
		if err1 != nil || err2 != nil {
			return out
		}
		out = append(out, s)
	}
	return out
}

// parseCPMSSupport reads the stores the module has for reading, from
// "+CPMS: ("SM","ME","MT"),(...),(...)" (AT+CPMS=?).
func parseCPMSSupport(line string) []string {
	_, rest, _ := strings.Cut(line, "(")
	group, _, ok := strings.Cut(rest, ")")
	if !ok {
		return nil
	}
	var out []string
	for _, f := range strings.Split(group, ",") {
		if n := strings.ToUpper(strings.Trim(strings.TrimSpace(f), `"`)); n != "" && len(n) <= 4 {
			out = append(out, n)
		}
	}
	return out
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// parseReg reads a registration state from "+CREG: <n>,<stat>[,...]" (an
// answer) or "+CREG: <stat>[,...]" (a URC), and CEREG/CGREG alike. ok is
// false when there is none.
func parseReg(line string, urc bool) (stat int, ok bool) {
	f := atFields(line)
	i := 1
	if urc {
		i = 0
	}
	if len(f) <= i {
		return 0, false
	}
	n, err := strconv.Atoi(f[i])
	return n, err == nil
}

// registered: home network (1) or roaming (5); 6 and 7 are their "SMS
// only" forms (TS 27.007 +CEREG).
func registered(stat int) bool { return stat == 1 || stat == 5 || stat == 6 || stat == 7 }

// parseCSQ reads "+CSQ: <rssi>,<ber>": rssi 0-31, 99 unknown.
func parseCSQ(line string) (rssi int, ok bool) {
	f := atFields(line)
	if len(f) < 1 {
		return 0, false
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n < 0 || n > 31 {
		return 0, false
	}
	return n, true
}

// parseCMTI reads "+CMTI: "<mem>",<index>".
func parseCMTI(line string) (mem string, index int, ok bool) {
	f := atFields(line)
	if len(f) < 2 {
		return "", 0, false
	}
	n, err := strconv.Atoi(f[1])
	if err != nil || n < 0 || f[0] == "" || len(f[0]) > 4 {
		return "", 0, false
	}
	return strings.ToUpper(f[0]), n, true
}

// parseCUSD reads "+CUSD: <m>[,<str>,<dcs>]": the text, UCS2 hex when dcs
// says so (72), and whether the network wants an answer (m=1).
func parseCUSD(line string) (text string, more bool, ok bool) {
	f := atFields(line)
	if len(f) < 1 {
		return "", false, false
	}
	m, err := strconv.Atoi(f[0])
	if err != nil {
		return "", false, false
	}
	if len(f) >= 2 {
		text = f[1]
	}
	if len(f) >= 3 && f[2] == "72" {
		if b, err := hex.DecodeString(text); err == nil && len(b)%2 == 0 {
			u := make([]uint16, len(b)/2)
			for i := range u {
				u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
			}
			text = string(utf16.Decode(u))
		}
	}
	return text, m == 1, m <= 2
}

// parseCLIP reads "+CLIP: "<number>",<type>,...": the caller's number,
// "" when withheld.
func parseCLIP(line string) string {
	f := atFields(line)
	if len(f) < 1 {
		return ""
	}
	// Type 145 is an international number; some modules leave the "+"
	// out of it.
	if len(f) > 1 && f[1] == "145" && f[0] != "" && !strings.HasPrefix(f[0], "+") {
		return "+" + f[0]
	}
	return f[0]
}

// parseCOPS reads "+COPS: <mode>[,<format>,<oper>[,<AcT>]]".
func parseCOPS(line string) (oper, tech string) {
	f := atFields(line)
	if len(f) >= 3 {
		oper = f[2]
	}
	if len(f) >= 4 {
		tech = map[string]string{"0": "2G", "1": "2G", "2": "3G", "3": "2G", "4": "3G", "5": "3G", "6": "3G", "7": "LTE", "8": "LTE", "9": "LTE", "11": "5G", "12": "5G", "13": "5G"}[f[3]]
	}
	return oper, tech
}

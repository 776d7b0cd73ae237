package main

import (
	"slices"
	"strings"
	"testing"
)

// The AT adapter is a modem port that says when messages arrive and has
// doctor checks of its own.
var (
	_ modemPort   = (*atModem)(nil)
	_ eventSource = (*atModem)(nil)
	_ portDoctor  = (*atModem)(nil)
)

// TestATSimIsIndependent: the AT simulator uses nothing declared in the
// client's files: its PDU code, line handling and pty are its own.
func TestATSimIsIndependent(t *testing.T) {
	own := []string{"sim_at.go", "sim_at_pdu.go", "sim_at_pty.go"}
	for _, f := range own {
		if used := clientNamesUsed(t, f, own...); len(used) > 0 {
			t.Errorf("%s uses the client's %s", f, strings.Join(used, ", "))
		}
	}
}

func TestLineSplitter(t *testing.T) {
	var s lineSplitter
	var got []string
	for _, chunk := range []string{"\r\nOK\r", "\n\r\n+CMTI: \"SM\",3\r\n", "AT+CMGS=2", "2\r\r\n> ", "0011\x1a\r\n+CMGS: 5\r\n\r\nOK\r\n"} {
		got = append(got, s.feed([]byte(chunk))...)
	}
	want := []string{"OK", `+CMTI: "SM",3`, "AT+CMGS=22", "> ", "0011", "+CMGS: 5", "OK"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	long := strings.Repeat("x", maxLine+10) + "\r\nOK\r\n"
	if got := s.feed([]byte(long)); !slices.Equal(got, []string{"OK"}) {
		t.Fatalf("an over-long line: %q", got)
	}
}

func TestClassifyLine(t *testing.T) {
	cases := []struct {
		line, cmd string
		want      lineKind
	}{
		{"OK", "AT", lineOK},
		{"AT+CMGL=4", "AT+CMGL=4", lineEcho},
		{"+CMGL: 1,0,,23", "AT+CMGL=4", lineData},
		{"07917283010010F5040BC8", "AT+CMGL=4", lineData},
		{`+CMTI: "ME",4`, "AT+CMGL=4", lineURC},
		{`+CMTI: "ME",4`, "", lineURC},
		{"RING", "AT+CSQ", lineURC},
		{"+CPIN: READY", "AT+CPIN?", lineData},
		{"+CPIN: READY", "AT+CMGL=4", lineURC},
		{"+CREG: 0,1", "AT+CREG?", lineData},
		{"+CREG: 1", "AT+CSQ", lineURC},
		{"+CMS ERROR: 321", "AT+CMGR=3", lineError},
		{"+CME ERROR: SIM not inserted", "AT+CPIN?", lineError},
		{"ERROR", "AT+CEREG=1", lineError},
		{"RDY", "AT+CMGL=4", lineURC},
		{`+CUSD: 0,"x",15`, "AT+CUSD=1,\"*100#\",15", lineURC},
		{"> ", "AT+CMGS=22", linePrompt},
		{"+CMGS: 12", "AT+CMGS=22", lineData},
	}
	for _, c := range cases {
		if got := classifyLine(c.line, c.cmd); got != c.want {
			t.Errorf("%q during %q: %d, want %d", c.line, c.cmd, got, c.want)
		}
	}
}

func TestParseCMGL(t *testing.T) {
	lines := []string{"+CMGL: 1,0,,23", "07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37",
		`+CMGL: 4,1,"Bob, home",23`, "0791", "+CMGL: 5,1,,23", "+CMGL: x,1,,3", "zz", "+CMGL: 6,0,,3", "GG"}
	got, problems := parseCMGL(lines)
	if len(got) != 2 || got[0].Index != 1 || got[0].Stat != 0 || got[1].Index != 4 || got[1].PDU != "0791" {
		t.Fatalf("got %+v", got)
	}
	if len(problems) != 4 {
		t.Fatalf("problems %q", problems)
	}
}

func TestParseATAnswers(t *testing.T) {
	if s := parseCPMS(`+CPMS: "ME",3,255,"ME",3,255,"SM",1,30`); len(s) != 3 || s[2] != (storeUse{"SM", 1, 30}) {
		t.Errorf("cpms query: %+v", s)
	}
	if s := parseCPMS(`+CPMS: 3,255,3,255,3,255`); len(s) != 3 || s[0] != (storeUse{"", 3, 255}) {
		t.Errorf("cpms set: %+v", s)
	}
	if s := parseCPMSSupport(`+CPMS: ("SM","ME","MT"),("SM","ME"),("SM")`); !slices.Equal(s, []string{"SM", "ME", "MT"}) {
		t.Errorf("cpms support: %q", s)
	}
	if mem, i, ok := parseCMTI(`+CMTI: "SM",3`); !ok || mem != "SM" || i != 3 {
		t.Errorf("cmti: %q %d %v", mem, i, ok)
	}
	if text, more, ok := parseCUSD(`+CUSD: 1,"00420061006C",72`); !ok || !more || text != "Bal" {
		t.Errorf("cusd ucs2: %q %v %v", text, more, ok)
	}
	if _, _, ok := parseCUSD(`+CUSD: 4`); ok {
		t.Error("cusd 4 (not supported by the network) read as an answer")
	}
	if n := parseCLIP(`+CLIP: "+4915112345678",145,"",0,"",0`); n != "+4915112345678" {
		t.Errorf("clip: %q", n)
	}
	if s, ok := parseReg("+CEREG: 2,5,\"1A2B\",\"01C2D3E4\",7", false); !ok || !registered(s) {
		t.Errorf("cereg: %d %v", s, ok)
	}
	if r, ok := parseCSQ("+CSQ: 99,99"); ok {
		t.Errorf("csq 99 read as %d", r)
	}
	if o, tech := parseCOPS(`+COPS: 0,0,"Orange F",7`); o != "Orange F" || tech != "LTE" {
		t.Errorf("cops: %q %q", o, tech)
	}
}

func FuzzATLines(f *testing.F) {
	f.Add([]byte("\r\n+CMGL: 1,0,,23\r\n0791\r\n+CMTI: \"SM\",3\r\nOK\r\n> "), "AT+CMGL=4", 3)
	f.Add([]byte("AT+CPIN?\r\r\n+CPIN: READY\r\n\r\nOK\r\n"), "AT+CPIN?", 1)
	f.Fuzz(func(t *testing.T, data []byte, cmd string, cut int) {
		var whole, split lineSplitter
		a := whole.feed(data)
		if cut < 0 {
			cut = -cut
		}
		cut %= len(data) + 1
		b := append(split.feed(data[:cut]), split.feed(data[cut:])...)
		if !slices.Equal(a, b) {
			t.Fatalf("cut at %d: %q vs %q", cut, a, b)
		}
		for _, l := range a {
			if len(l) > maxLine || strings.ContainsAny(l, "\r\n") {
				t.Fatalf("line %q", l)
			}
			k := classifyLine(l, cmd)
			if k == lineError {
				_ = parseFinalError(cmd, l).Error()
			}
		}
	})
}

func FuzzParseCMGL(f *testing.F) {
	f.Add("+CMGL: 1,0,,23\n07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37\n+CMGL: 2,1,\"a,b\",3\n00")
	f.Fuzz(func(t *testing.T, s string) {
		entries, _ := parseCMGL(strings.Split(s, "\n"))
		for _, e := range entries {
			if e.PDU == "" || e.Index < 0 {
				t.Fatalf("entry %+v", e)
			}
		}
		parseCMGR(strings.Split(s, "\n"))
	})
}

func FuzzParseATAnswer(f *testing.F) {
	for _, s := range []string{`+CPMS: "ME",3,255,"ME",3,255,"SM",1,30`, `+CPMS: ("SM","ME")`, `+CMTI: "SM",3`,
		`+CUSD: 1,"00420061006C",72`, `+CLIP: "+49",145`, `+CEREG: 2,5,"1A2B"`, "+CSQ: 21,99", `+COPS: 0,0,"O",7`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		parseCPMS(s)
		parseCPMSSupport(s)
		parseCMTI(s)
		parseCUSD(s)
		parseCLIP(s)
		parseReg(s, true)
		parseReg(s, false)
		parseCSQ(s)
		parseCOPS(s)
	})
}

func TestSamePDU(t *testing.T) {
	tpdu := "040B911346610089F60000208062917314080CC8F71D14969741F977FD07"
	cases := []struct {
		a, b string
		same bool
	}{
		{"07911326040000F0" + tpdu, "00" + tpdu, true},
		{"07911326040000F0" + tpdu, strings.ToLower("07911326040000F0" + tpdu), true},
		{"00" + tpdu, "00" + tpdu[:len(tpdu)-2] + "08", false},
		{"", "00", false},
	}
	for _, c := range cases {
		if got := samePDU(c.a, c.b); got != c.same {
			t.Errorf("%q vs %q: %v", c.a, c.b, got)
		}
	}
}

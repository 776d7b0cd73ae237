//go:build linux && !nosim

package main

// The AT simulator is a witness, not a mirror: it plays a SIM7600, EC25 or
// SIM800 on a pseudo-terminal from ../shared/at-modems.md (TS 27.005 command
// forms, PDU mode, +CMTI indications) with its own PDU encoder and decoder,
// and calls none of the client's code. Where the two disagree, a test fails.

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// atSimPersonality is what differs between the modules as the simulator
// plays them. Boot lines and store sizes follow the module families; the
// per-module quirks marked "inference" are not in the notes and exist to
// exercise both readings.
type atSimPersonality struct {
	Name       string
	Model      string
	Boot       []string // URCs after a restart
	Stores     map[string]int
	DefStore   string // mem1/2/3 after a restart
	ForceStore string // inference: a module that files incoming SMS here whatever mem3 says
	NoCEREG    bool   // 2G only: AT+CEREG is an error
	EmptyCMGR  bool   // inference: AT+CMGR of an empty index answers a bare OK instead of +CMS ERROR: 321
	WideRef    bool   // long messages come with 16-bit concatenation references
}

var atSimPersonalities = map[string]atSimPersonality{
	"sim7600": {Name: "sim7600", Model: "SIMCOM_SIM7600E-H", Boot: []string{"RDY", "+CPIN: READY", "SMS DONE", "PB DONE"},
		Stores: map[string]int{"SM": 30, "ME": 255}, DefStore: "SM", WideRef: true},
	"ec25": {Name: "ec25", Model: "EC25", Boot: []string{"RDY", "+CFUN: 1", "+CPIN: READY", "+QIND: SMS DONE", "+QIND: PB DONE"},
		Stores: map[string]int{"SM": 40, "ME": 255}, DefStore: "SM"},
	"sim800": {Name: "sim800", Model: "SIM800", Boot: []string{"RDY", "+CFUN: 1", "+CPIN: READY", "Call Ready", "SMS Ready"},
		Stores: map[string]int{"SM": 30, "ME": 50}, DefStore: "SM", ForceStore: "SM", NoCEREG: true, EmptyCMGR: true},
}

// atSimFaults are line-discipline faults a test switches on.
type atSimFaults struct {
	DropCMTI     bool   // store incoming SMS without the +CMTI indication
	EchoStuck    bool   // ATE0 answers OK but echo stays on
	NeverAnswer  string // a command starting with this gets no answer at all
	URCMidAnswer bool   // a +CMTI and a RING come in the middle of every +CMGL listing
	CMGSSilent   bool   // AT+CMGS takes the PDU and never answers
	CMGSRefused  bool   // AT+CMGS answers the PDU +CMS ERROR: 500 (no credit, as some networks say it)
	USSDSilent   bool   // AT+CUSD answers OK, never +CUSD:
}

type atSimMsg struct {
	pdu  string
	stat int // 0 unread, 1 read
}

// atSimSent is one SMS-SUBMIT the simulator took.
type atSimSent struct {
	To, Text    string
	Part, Total int
}

// ATSim is the simulated module.
type ATSim struct {
	mu       sync.Mutex
	p        atSimPersonality
	pty      *simPTY
	link     string // a symlink standing for the module's stable name (/dev/serial/by-id)
	dir      string
	store    map[string]map[int]atSimMsg
	mem      [3]string
	echo     bool
	cmee     int
	cmgf     int
	cnmi     bool
	clip     bool
	regURC   map[string]bool // +CREG, +CGREG, +CEREG asked for as URCs
	cfun     int
	cgatt    bool
	linkUp   bool
	simOut   bool // the SIM wants its PIN
	faults   atSimFaults
	sent     []atSimSent
	actions  []string
	commands []string
	mr       int
	ref      int
	awaitPDU int // >0: the prompt was given for a PDU of this length
	closed   bool
	done     chan struct{}

	atSimFamilyKnobs
}

// atSimFamilyKnobs is what the gateway's behaviour table turns on a module.
type atSimFamilyKnobs struct {
	// dataDown: the packet service dropped (detached, not registered for
	// data) while the radio stays registered: SMS still work. A detach and
	// attach (AT+CGATT=0/1) or radio off and on (AT+CFUN=0/1) brings it
	// back, unless stuck is "reboot": then only AT+CFUN=1,1 does.
	dataDown bool
	stuck    string
	// failCMGD refuses the next so many AT+CMGD with +CMS ERROR.
	failCMGD int
	// withheld: the part DeliverIncomplete left out, by the lowest index
	// the message took, until CompleteMessage files it.
	withheld map[int]atSimWithheld
	cmti     int // +CMTI indications sent
	// FileAfterLast files each message after the last index used (then
	// wrapping to the lowest free one) instead of at the lowest free
	// index: ids stay unique over a test, as the behaviour table's
	// bookkeeping by id needs.
	FileAfterLast bool
	lastIndex     map[string]int
	// RebootDelay is how long AT+CFUN=1,1 keeps the module away before it
	// boots (RDY...); 0 boots right after the OK.
	RebootDelay time.Duration
}

// startATSim starts a module of the given personality on a fresh
// pseudo-terminal. DevicePath is a symlink to it in a temporary directory.
func startATSim(personality string) (*ATSim, error) {
	p, ok := atSimPersonalities[personality]
	if !ok {
		return nil, fmt.Errorf("at sim: no personality %q (sim7600, ec25, sim800)", personality)
	}
	dir, err := os.MkdirTemp("", "atsim")
	if err != nil {
		return nil, err
	}
	s := &ATSim{p: p, dir: dir, link: filepath.Join(dir, "modem"), store: map[string]map[int]atSimMsg{}, linkUp: true, ref: 0x41,
		atSimFamilyKnobs: atSimFamilyKnobs{withheld: map[int]atSimWithheld{}, RebootDelay: 100 * time.Millisecond}}
	s.p.Stores = map[string]int{} // its own copy: SetCapacity changes it
	for name, n := range p.Stores {
		s.store[name] = map[int]atSimMsg{}
		s.p.Stores[name] = n
	}
	s.reset()
	if err := s.plug(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// reset is the state after power-on: echo on, no indications.
func (s *ATSim) reset() {
	s.mem = [3]string{s.p.DefStore, s.p.DefStore, s.p.DefStore}
	s.echo, s.cmee, s.cmgf, s.cnmi, s.clip, s.regURC = true, 0, 0, false, false, map[string]bool{}
	s.cfun, s.cgatt, s.awaitPDU = 1, true, 0
}

func (s *ATSim) plug() error {
	pty, err := openSimPTY()
	if err != nil {
		return err
	}
	os.Remove(s.link)
	if err := os.Symlink(pty.path, s.link); err != nil {
		pty.close()
		return err
	}
	s.pty = pty
	s.done = make(chan struct{})
	go s.serve(pty, s.done)
	return nil
}

// DevicePath is the device the client opens.
func (s *ATSim) DevicePath() string { return s.link }

// Unplug makes the device vanish, as a USB re-enumeration does: the
// client's reads fail and the path is gone.
func (s *ATSim) Unplug() {
	s.mu.Lock()
	pty, done := s.pty, s.done
	s.pty = nil
	os.Remove(s.link)
	s.mu.Unlock()
	if pty != nil {
		pty.close()
		<-done
	}
}

// Replug brings the module back, on a new pseudo-terminal behind the same
// link, freshly booted.
func (s *ATSim) Replug() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reset()
	return s.plug()
}

// Close stops the simulator.
func (s *ATSim) Close() {
	s.Unplug()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	os.RemoveAll(s.dir)
}

func (s *ATSim) serve(pty *simPTY, done chan struct{}) {
	defer close(done)
	var line []byte
	buf := make([]byte, 512)
	for {
		n, err := pty.master.Read(buf)
		if err != nil {
			return
		}
		for _, c := range buf[:n] {
			line = s.take(pty, line, c)
		}
	}
}

// take adds one byte from the client: a command ends with CR, a PDU with
// Ctrl-Z (ESC gives it up).
func (s *ATSim) take(pty *simPTY, line []byte, c byte) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.awaitPDU > 0 {
		switch c {
		case 0x1A:
			s.echoBytes(pty, string(line)+"\x1a")
			s.submit(pty, strings.TrimSpace(string(line)))
			return line[:0]
		case 0x1B:
			s.awaitPDU = 0
			s.reply(pty, "OK")
			return line[:0]
		}
		return append(line, c)
	}
	switch c {
	case '\r':
		cmd := strings.TrimSpace(string(line))
		if s.echo || s.faults.EchoStuck {
			s.echoBytes(pty, string(line)+"\r")
		}
		if cmd != "" {
			s.command(pty, cmd)
		}
		return line[:0]
	case '\n':
		return line
	}
	if len(line) > 1024 {
		return line[:0]
	}
	return append(line, c)
}

func (s *ATSim) echoBytes(pty *simPTY, b string) {
	if s.echo || s.faults.EchoStuck {
		pty.master.WriteString(b)
	}
}

// reply writes result lines as V.250 frames them: CR LF line CR LF.
func (s *ATSim) reply(pty *simPTY, lines ...string) {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("\r\n" + l + "\r\n")
	}
	pty.master.WriteString(b.String())
}

// urc sends an unsolicited line, if a client may be listening.
func (s *ATSim) urc(line string) {
	if s.pty != nil {
		s.reply(s.pty, line)
	}
}

// cmsError is +CMS ERROR as AT+CMEE asks for it.
func (s *ATSim) cmsError(pty *simPTY, code int, words string) {
	switch s.cmee {
	case 0:
		s.reply(pty, "ERROR")
	case 1:
		s.reply(pty, fmt.Sprintf("+CMS ERROR: %d", code))
	default:
		s.reply(pty, "+CMS ERROR: "+words)
	}
}

func (s *ATSim) command(pty *simPTY, cmd string) {
	s.commands = append(s.commands, cmd)
	if f := s.faults.NeverAnswer; f != "" && strings.HasPrefix(strings.ToUpper(cmd), strings.ToUpper(f)) {
		return
	}
	up := strings.ToUpper(cmd)
	name, arg, hasArg := strings.Cut(up, "=")
	if !hasArg && strings.HasSuffix(up, "?") {
		name, arg = strings.TrimSuffix(up, "?"), "?"
	}
	if hasArg && arg == "?" {
		arg = "=?" // a test command: what is supported
	}
	argRaw := ""
	if hasArg {
		argRaw = cmd[len(name)+1:]
	}
	if h, ok := atSimHandlers[name]; ok {
		h(s, pty, arg, argRaw)
		return
	}
	s.reply(pty, "ERROR")
}

// atSimHandlers answer the commands the notes name, and the few a status
// or doctor reads.
var atSimHandlers = map[string]func(s *ATSim, pty *simPTY, arg, raw string){
	"AT":   func(s *ATSim, pty *simPTY, _, _ string) { s.reply(pty, "OK") },
	"ATZ":  func(s *ATSim, pty *simPTY, _, _ string) { s.reply(pty, "OK") },
	"ATE0": func(s *ATSim, pty *simPTY, _, _ string) { s.echo = false; s.reply(pty, "OK") },
	"ATE1": func(s *ATSim, pty *simPTY, _, _ string) { s.echo = true; s.reply(pty, "OK") },
	"ATI":  func(s *ATSim, pty *simPTY, _, _ string) { s.reply(pty, s.p.Model, "OK") },
	"AT+CGMM": func(s *ATSim, pty *simPTY, _, _ string) {
		s.reply(pty, s.p.Model, "OK")
	},
	"AT+CGMR": func(s *ATSim, pty *simPTY, _, _ string) { s.reply(pty, "SIM-"+s.p.Name+"-1.0", "OK") },
	"AT+CMEE": func(s *ATSim, pty *simPTY, arg, _ string) {
		n, err := strconv.Atoi(arg)
		if err != nil || n < 0 || n > 2 {
			s.reply(pty, "ERROR")
			return
		}
		s.cmee = n
		s.reply(pty, "OK")
	},
	"AT+CPIN": func(s *ATSim, pty *simPTY, arg, _ string) {
		if arg != "?" {
			s.reply(pty, "ERROR")
			return
		}
		if s.simOut {
			s.reply(pty, "+CPIN: SIM PIN", "OK")
			return
		}
		s.reply(pty, "+CPIN: READY", "OK")
	},
	"AT+CMGF": func(s *ATSim, pty *simPTY, arg, _ string) {
		switch arg {
		case "?":
			s.reply(pty, fmt.Sprintf("+CMGF: %d", s.cmgf), "OK")
		case "0", "1":
			s.cmgf = int(arg[0] - '0')
			s.reply(pty, "OK")
		default:
			s.reply(pty, "ERROR")
		}
	},
	"AT+CPMS":  (*ATSim).cpms,
	"AT+CNMI":  func(s *ATSim, pty *simPTY, arg, _ string) { s.cnmi = strings.HasPrefix(arg, "2,1"); s.reply(pty, "OK") },
	"AT+CLIP":  func(s *ATSim, pty *simPTY, arg, _ string) { s.clip = arg == "1"; s.reply(pty, "OK") },
	"AT+CREG":  func(s *ATSim, pty *simPTY, arg, _ string) { s.reg(pty, "+CREG", arg) },
	"AT+CEREG": func(s *ATSim, pty *simPTY, arg, _ string) { s.reg(pty, "+CEREG", arg) },
	"AT+CGREG": func(s *ATSim, pty *simPTY, arg, _ string) { s.reg(pty, "+CGREG", arg) },
	"AT+CSQ": func(s *ATSim, pty *simPTY, _, _ string) {
		if s.linkUp && s.cfun == 1 {
			s.reply(pty, "+CSQ: 21,99", "OK")
		} else {
			s.reply(pty, "+CSQ: 99,99", "OK")
		}
	},
	"AT+COPS": func(s *ATSim, pty *simPTY, _, _ string) {
		if s.linkUp && s.cfun == 1 {
			act := 7 // E-UTRAN
			if s.p.NoCEREG {
				act = 0 // a 2G module: GSM
			}
			s.reply(pty, fmt.Sprintf(`+COPS: 0,0,"Sim Telecom",%d`, act), "OK")
		} else {
			s.reply(pty, "+COPS: 0", "OK")
		}
	},
	"AT+CFUN":  (*ATSim).cfunCmd,
	"AT+CGATT": (*ATSim).cgattCmd,
	"AT+CMGL":  (*ATSim).cmgl,
	"AT+CMGR":  (*ATSim).cmgr,
	"AT+CMGD":  (*ATSim).cmgd,
	"AT+CMGS":  (*ATSim).cmgs,
	"AT+CUSD":  (*ATSim).cusd,
	"AT+CSCS":  func(s *ATSim, pty *simPTY, _, _ string) { s.reply(pty, "OK") },
}

func (s *ATSim) reg(pty *simPTY, name, arg string) {
	if name == "+CEREG" && s.p.NoCEREG {
		s.reply(pty, "ERROR")
		return
	}
	switch arg {
	case "?":
		n := 0
		if s.regURC[name] {
			n = 1
		}
		s.reply(pty, fmt.Sprintf("%s: %d,%d", name, n, s.regStat(name)), "OK")
	case "0", "1", "2":
		s.regURC[name] = arg != "0"
		s.reply(pty, "OK")
	default:
		s.reply(pty, "ERROR")
	}
}

// regStat is 1 (registered, home) or 0: +CREG for the circuit-switched
// side (SMS), +CGREG and +CEREG for the packet service (data), which needs
// the module attached and the data link not dropped.
func (s *ATSim) regStat(name string) int {
	up := s.linkUp && s.cfun == 1
	if name != "+CREG" {
		up = up && s.cgatt && !s.dataDown
	}
	if up {
		return 1
	}
	return 0
}

// regURCs tells a client that asked for registration URCs where it stands
// now, after anything that may have changed it.
func (s *ATSim) regURCs() {
	for _, name := range []string{"+CREG", "+CGREG", "+CEREG"} {
		if s.regURC[name] && (name != "+CEREG" || !s.p.NoCEREG) {
			s.urc(fmt.Sprintf("%s: %d", name, s.regStat(name)))
		}
	}
}

// cgattCmd attaches to or detaches from the packet service: attaching
// again brings a dropped data link back, unless it is stuck for a reboot.
func (s *ATSim) cgattCmd(pty *simPTY, arg, _ string) {
	switch arg {
	case "?":
		s.reply(pty, fmt.Sprintf("+CGATT: %d", map[bool]int{true: 1}[s.cgatt && !s.dataDown]), "OK")
	case "0", "1":
		s.cgatt = arg == "1"
		s.actions = append(s.actions, "cgatt="+arg)
		if s.cgatt && s.stuck == "" {
			s.dataDown = false
		}
		s.reply(pty, "OK")
		s.regURCs()
	default:
		s.reply(pty, "ERROR")
	}
}

// cpms sets or reads the three stores: reading, writing, receiving.
func (s *ATSim) cpms(pty *simPTY, arg, _ string) {
	if arg == "=?" {
		var names []string
		for n := range s.p.Stores {
			names = append(names, strconv.Quote(n))
		}
		sort.Strings(names)
		g := "(" + strings.Join(names, ",") + ")"
		s.reply(pty, "+CPMS: "+g+","+g+","+g, "OK")
		return
	}
	if arg == "?" {
		var f []string
		for _, m := range s.mem {
			f = append(f, fmt.Sprintf("%q,%d,%d", m, len(s.store[m]), s.p.Stores[m]))
		}
		s.reply(pty, "+CPMS: "+strings.Join(f, ","), "OK")
		return
	}
	names := strings.Split(arg, ",")
	if len(names) > 3 {
		s.reply(pty, "ERROR")
		return
	}
	mem := s.mem
	for i, n := range names {
		n = strings.Trim(strings.TrimSpace(n), `"`)
		if _, ok := s.p.Stores[n]; !ok {
			s.cmsError(pty, 302, "operation not allowed")
			return
		}
		mem[i] = n
	}
	s.mem = mem
	var f []string
	for _, m := range s.mem {
		f = append(f, fmt.Sprintf("%d,%d", len(s.store[m]), s.p.Stores[m]))
	}
	s.reply(pty, "+CPMS: "+strings.Join(f, ","), "OK")
}

func (s *ATSim) cmgl(pty *simPTY, arg, _ string) {
	stat, err := strconv.Atoi(arg)
	if s.cmgf != 0 || err != nil || stat < 0 || stat > 4 {
		s.cmsError(pty, 302, "operation not allowed")
		return
	}
	st := s.store[s.mem[0]]
	var idx []int
	for i := range st {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	var lines []string
	for n, i := range idx {
		m := st[i]
		if stat != 4 && m.stat != stat {
			continue
		}
		lines = append(lines, fmt.Sprintf("+CMGL: %d,%d,,%d", i, m.stat, len(m.pdu)/2-1-atSimHexByte(m.pdu)), m.pdu)
		if s.faults.URCMidAnswer && n == 0 {
			lines = append(lines, fmt.Sprintf("+CMTI: %q,%d", s.mem[0], i), "RING")
		}
		// TS 27.005: listing a received unread message makes it read.
		if m.stat == 0 {
			m.stat = 1
			st[i] = m
		}
	}
	s.reply(pty, append(lines, "OK")...)
}

func atSimHexByte(h string) int {
	v, err := strconv.ParseUint(h[:2], 16, 8)
	if err != nil {
		return 0
	}
	return int(v)
}

func (s *ATSim) cmgr(pty *simPTY, arg, _ string) {
	i, err := strconv.Atoi(arg)
	if err != nil || s.cmgf != 0 {
		s.cmsError(pty, 302, "operation not allowed")
		return
	}
	m, ok := s.store[s.mem[0]][i]
	switch {
	case !ok && s.p.EmptyCMGR:
		s.reply(pty, "OK")
	case !ok:
		s.cmsError(pty, 321, "invalid memory index")
	default:
		s.reply(pty, fmt.Sprintf("+CMGR: %d,,%d", m.stat, len(m.pdu)/2-1-atSimHexByte(m.pdu)), m.pdu, "OK")
		m.stat = 1
		s.store[s.mem[0]][i] = m
	}
}

// cmgd deletes one index; an empty one answers OK too (Cinterion, Huawei
// manuals).
func (s *ATSim) cmgd(pty *simPTY, arg, _ string) {
	f := strings.Split(arg, ",")
	i, err := strconv.Atoi(strings.TrimSpace(f[0]))
	if err != nil {
		s.cmsError(pty, 302, "operation not allowed")
		return
	}
	if s.failCMGD > 0 {
		s.failCMGD--
		s.actions = append(s.actions, fmt.Sprintf("delete %s %d refused", s.mem[0], i))
		s.cmsError(pty, 320, "memory failure")
		return
	}
	if len(f) > 1 && strings.TrimSpace(f[1]) != "0" {
		s.actions = append(s.actions, "delete all flag "+f[1])
		for j, m := range s.store[s.mem[0]] {
			if strings.TrimSpace(f[1]) == "4" || m.stat == 1 {
				delete(s.store[s.mem[0]], j)
			}
		}
		s.reply(pty, "OK")
		return
	}
	if _, ok := s.store[s.mem[0]][i]; ok {
		s.actions = append(s.actions, fmt.Sprintf("delete %s %d", s.mem[0], i))
	}
	delete(s.store[s.mem[0]], i)
	s.reply(pty, "OK")
}

func (s *ATSim) cmgs(pty *simPTY, arg, _ string) {
	n, err := strconv.Atoi(arg)
	if err != nil || n < 7 || n > 164 || s.cmgf != 0 {
		s.cmsError(pty, 304, "invalid PDU mode parameter")
		return
	}
	s.awaitPDU = n
	pty.master.WriteString("\r\n> ")
}

// submit takes the PDU given after the prompt.
func (s *ATSim) submit(pty *simPTY, hexPDU string) {
	want := s.awaitPDU
	s.awaitPDU = 0
	sub, err := atSimDecodeSubmit(hexPDU, want)
	if err != nil {
		s.actions = append(s.actions, "bad submit: "+err.Error())
		s.cmsError(pty, 304, "invalid PDU mode parameter")
		return
	}
	if !s.linkUp || s.cfun != 1 {
		s.cmsError(pty, 331, "no network service")
		return
	}
	if s.faults.CMGSRefused {
		s.cmsError(pty, 500, "unknown error")
		return
	}
	s.sent = append(s.sent, sub)
	s.actions = append(s.actions, fmt.Sprintf("send %s part %d/%d", sub.To, sub.Part, sub.Total))
	if s.faults.CMGSSilent {
		return
	}
	s.mr = (s.mr + 1) % 256
	s.reply(pty, fmt.Sprintf("+CMGS: %d", s.mr), "OK")
}

func (s *ATSim) cfunCmd(pty *simPTY, arg, _ string) {
	switch arg {
	case "?":
		s.reply(pty, fmt.Sprintf("+CFUN: %d", s.cfun), "OK")
	case "0", "1", "4":
		wasOff := s.cfun != 1
		s.cfun = int(arg[0] - '0')
		s.actions = append(s.actions, "cfun="+arg)
		if wasOff && s.cfun == 1 && s.stuck == "" {
			s.dataDown = false // the radio off and on attaches afresh
		}
		s.reply(pty, "OK")
		s.regURCs()
	case "1,1":
		s.actions = append(s.actions, "reboot")
		s.reply(pty, "OK")
		if s.RebootDelay <= 0 {
			s.reboot()
			return
		}
		go func(d time.Duration) {
			time.Sleep(d)
			s.Reboot()
		}(s.RebootDelay)
	default:
		s.reply(pty, "ERROR")
	}
}

func (s *ATSim) cusd(pty *simPTY, arg, raw string) {
	f := strings.SplitN(raw, ",", 3)
	if len(f) < 2 {
		s.reply(pty, "OK")
		return
	}
	code := strings.Trim(f[1], `"`)
	s.actions = append(s.actions, "ussd "+code)
	s.reply(pty, "OK")
	if s.faults.USSDSilent {
		return
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.urc(fmt.Sprintf("+CUSD: 0,\"Balance for %s:\n12.34 EUR\",15", code))
	}()
}

// Reboot restarts the module: echo back on, indications off, the stores
// back to their default; stored messages stay. The boot URCs follow.
func (s *ATSim) Reboot() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reboot()
}

// reboot is Reboot with s.mu held. A restart brings a dropped data link
// back, stuck or not.
func (s *ATSim) reboot() {
	s.reset()
	s.dataDown = false
	for _, l := range s.p.Boot {
		s.urc(l)
	}
}

// SetLink puts the module on the network or off it.
func (s *ATSim) SetLink(up bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.linkUp = up
	s.regURCs()
}

// SetData drops the packet service (data) or brings it back, the radio
// staying registered: SMS still go and come.
func (s *ATSim) SetData(up bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dataDown = !up
	s.regURCs()
}

// SetStuck: "" a detach and attach or radio off and on brings a dropped
// data link back; "reboot" only a module restart (AT+CFUN=1,1) does.
func (s *ATSim) SetStuck(mode string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stuck = mode
}

// FailDeletes answers the next n AT+CMGD with +CMS ERROR (memory failure),
// deleting nothing.
func (s *ATSim) FailDeletes(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failCMGD = n
}

// SetCapacity makes every store hold n messages.
func (s *ATSim) SetCapacity(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name := range s.p.Stores {
		s.p.Stores[name] = n
	}
}

// Indications counts the +CMTI sent for messages filed.
func (s *ATSim) Indications() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmti
}

// SetSIM makes the SIM ready (+CPIN: READY follows) or locked.
func (s *ATSim) SetSIM(ready bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.simOut = !ready
	if ready {
		s.urc("+CPIN: READY")
	}
}

// SetFaults switches line faults on or off.
func (s *ATSim) SetFaults(f atSimFaults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

// Ring plays an incoming call: RING and, with AT+CLIP=1, the number.
func (s *ATSim) Ring(number string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.urc("RING")
	if s.clip {
		s.urc(fmt.Sprintf("+CLIP: %q,145,\"\",0,\"\",0", number))
	}
}

// Deliver stores an SMS from from as the network would hand it over, split
// into concatenated parts if long, and indicates it. It returns the lowest
// index its parts took.
func (s *ATSim) Deliver(from, text string, at time.Time) int64 {
	_, i := s.DeliverWhere(from, text, at, 0)
	return int64(i)
}

// DeliverIncomplete stores a long message without its part number missing.
func (s *ATSim) DeliverIncomplete(from, text string, at time.Time, missing int) int64 {
	_, i := s.DeliverWhere(from, text, at, missing)
	return int64(i)
}

// atSimWithheld is a part held back by DeliverIncomplete.
type atSimWithheld struct {
	mem string
	pdu string
}

// DeliverWhere is Deliver (missing 0) or DeliverIncomplete, saying also
// the store the parts were filed in.
func (s *ATSim) DeliverWhere(from, text string, at time.Time, missing int) (string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ref++
	pdus := atSimEncodeDeliver(from, text, at, s.ref, s.p.WideRef)
	mem := s.mem[2]
	if s.p.ForceStore != "" {
		mem = s.p.ForceStore
	}
	lowest := -1
	// Parts are filed last first, so that their index order is not their
	// part order.
	for k := len(pdus) - 1; k >= 0; k-- {
		if missing == k+1 {
			continue
		}
		if i, ok := s.file(mem, pdus[k]); ok && (lowest < 0 || i < lowest) {
			lowest = i
		}
	}
	if missing >= 1 && missing <= len(pdus) && lowest >= 0 {
		s.withheld[lowest] = atSimWithheld{mem, pdus[missing-1]}
	}
	return mem, lowest
}

// file stores one part at the lowest free index and indicates it.
func (s *ATSim) file(mem, pdu string) (int, bool) {
	i := s.freeIndex(mem)
	if i < 0 {
		s.actions = append(s.actions, "store full: dropped")
		return 0, false
	}
	s.store[mem][i] = atSimMsg{pdu: pdu}
	if s.cnmi && !s.faults.DropCMTI {
		s.cmti++
		s.urc(fmt.Sprintf("+CMTI: %q,%d", mem, i))
	}
	return i, true
}

// CompleteMessage files the part DeliverIncomplete held back from the
// message at index (as it returned), late, as a network does.
func (s *ATSim) CompleteMessage(index int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.withheld[int(index)]
	if !ok {
		return
	}
	delete(s.withheld, int(index))
	s.file(w.mem, w.pdu)
}

func (s *ATSim) freeIndex(mem string) int {
	if s.FileAfterLast {
		if s.lastIndex == nil {
			s.lastIndex = map[string]int{}
		}
		last, ok := s.lastIndex[mem]
		if !ok {
			last = -1
		}
		for i := last + 1; i < s.p.Stores[mem]; i++ {
			if _, used := s.store[mem][i]; !used {
				s.lastIndex[mem] = i
				return i
			}
		}
	}
	for i := 0; i < s.p.Stores[mem]; i++ {
		if _, used := s.store[mem][i]; !used {
			return i
		}
	}
	return -1
}

// Inbox lists the messages stored, each by the lowest index of its parts,
// every store together (tests use one store at a time).
func (s *ATSim) Inbox() []int64 {
	var out []int64
	for _, w := range s.Stored() {
		out = append(out, int64(w.Index))
	}
	sort.Slice(out, func(a, b int) bool { return out[a] < out[b] })
	return out
}

// atSimWhere is where a message is: its store and the lowest index of its
// parts.
type atSimWhere struct {
	Store string
	Index int
}

// Stored lists the messages stored, with their store.
func (s *ATSim) Stored() []atSimWhere {
	s.mu.Lock()
	defer s.mu.Unlock()
	type key struct {
		mem string
		id  string
	}
	low := map[key]int{}
	for mem, st := range s.store {
		for i, m := range st {
			k := key{mem, atSimMessageKey(m.pdu, i)}
			if v, ok := low[k]; !ok || i < v {
				low[k] = i
			}
		}
	}
	var out []atSimWhere
	for k, i := range low {
		out = append(out, atSimWhere{k.mem, i})
	}
	return out
}

// Sent lists the SMS-SUBMITs taken, one per part.
func (s *ATSim) Sent() []atSimSent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]atSimSent(nil), s.sent...)
}

// Actions lists what the module was told to do (deletes, sends, restarts).
func (s *ATSim) Actions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.actions...)
}

// Commands lists every command line received.
func (s *ATSim) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.commands...)
}

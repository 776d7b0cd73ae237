package main

// The AT family's adapter: a SIM7600, EC25, SIM800 (or any TS 27.005
// module) on a serial port, in PDU mode, event-driven by +CMTI.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ATConfig is what -modem serial:... says, and the adapter's timings.
type ATConfig struct {
	Device  string        // /dev/ttyUSB2, /dev/serial0, or a stable /dev/serial/by-id link
	Baud    int           // 115200 unless ?baud= says otherwise
	Timeout time.Duration // one command's answer; listings and sends get more
	Logger  *slog.Logger
	// Store is the message store asked for with AT+CPMS ("ME" unless set);
	// "SM" when the module refuses it.
	Store string
	// ProbeEvery is how often a quiet line is probed with a bare AT.
	ProbeEvery time.Duration
	// SweepEvery is how often Inbox lists every store (AT+CMGL=4) instead
	// of reading only what +CMTI named: the sweep finds messages whose
	// indication was lost.
	SweepEvery time.Duration
	// MaxParts is how many concatenated parts Send may use: 1 (the
	// default) refuses a text longer than one SMS instead of splitting it.
	MaxParts int
	// Trace logs every line in and out at debug level.
	Trace bool
}

func (c *ATConfig) defaults() {
	if c.Baud == 0 {
		c.Baud = 115200
	}
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Store == "" {
		c.Store = "ME"
	}
	if c.ProbeEvery <= 0 {
		c.ProbeEvery = 60 * time.Second
	}
	if c.SweepEvery <= 0 {
		c.SweepEvery = 5 * time.Minute
	}
	if c.MaxParts <= 0 {
		c.MaxParts = 1
	}
}

// atConfigOf is the AT adapter's configuration for a serial: address
// (parseModemAddress read it).
func atConfigOf(t portTarget) ATConfig {
	return ATConfig{Device: t.Device, Baud: t.Baud, Timeout: t.Config.Timeout, Logger: t.Config.Logger, MaxParts: atMaxParts}
}

// ATCall is an incoming call seen by RING and +CLIP, never answered.
type ATCall struct {
	Number string // "" when the caller withheld it
	At     time.Time
}

// atModem is the modemPort of an AT module. One goroutine drives it (op);
// the line's reader goroutine only touches the fields under st.
type atModem struct {
	cfg ATConfig
	log *slog.Logger

	op       sync.Mutex // one operation at a time, whoever calls
	conn     *atConn
	reopen   backoff // after a failed open: 2 s, doubling to 30 s
	nextOpen time.Time
	primary  string // the store AT+CPMS accepted
	mem1     string // the store reads and deletes go to now
	regURC   bool   // AT+CREG=1 accepted: registration comes as URCs
	listed   map[int64][]listedPart
	// unread: parts smsgate saw unread. Listing or reading a message
	// marks it read in the module (TS 27.005), so a message is reported
	// read only once MarkRead was asked for, not because it was listed.
	unread map[string]bool
	// cache is what each store held at the last listing, kept up to date
	// by reading what +CMTI names and by deletes; fullAt is when it was
	// listed whole (zero: list whole next time).
	cache     map[string]map[int]cmglEntry
	fullAt    time.Time
	ref       byte
	lastProbe time.Time
	ussdWait  time.Duration // 30 s; tests shorten it

	needInit  atomic.Bool
	simKick   atomic.Bool // +CPIN: READY came: init again now
	initAfter time.Time   // SIM not ready: no new init before this
	initErr   error
	events    chan struct{}
	calls     chan ATCall
	ussd      chan string

	st struct {
		sync.Mutex
		indications int             // +CMTI and restarts seen: Unread changes with it
		stores      map[string]bool // stores a +CMTI named
		filed       map[string]bool // stores a +CMTI named: where SMS arrive
		pending     []storeIndex    // what +CMTI named since the last listing
		overflow    bool            // too many to keep: list whole
		simReady    bool
		reg, ereg   int
		greg        int
		psSeen      bool // +CGREG or +CEREG answered: data registration is known
		model       string
		firmware    string
		ringAt      time.Time // last RING
		callSent    bool      // this call was reported
	}
}

// storeIndex is where a +CMTI said a message was filed.
type storeIndex struct {
	store string
	index int
	at    time.Time // when the indication came
}

// maxPending bounds the indications kept between two listings; beyond, the
// next listing is a full one.
const maxPending = 64

// listedPart is where one part of a listed message is, and what it held.
type listedPart struct {
	store string
	index int
	pdu   string
}

// newATModem makes the adapter; the port is opened on first use, so that
// a module that is not there yet (booting, USB enumerating) is waited for.
func newATModem(cfg ATConfig) (*atModem, error) {
	cfg.defaults()
	if cfg.Device == "" {
		return nil, errors.New("at modem: no device")
	}
	m := &atModem{cfg: cfg, log: cfg.Logger.With("modem", "at", "device", cfg.Device),
		events: make(chan struct{}, 1), calls: make(chan ATCall, 4), ussd: make(chan string, 1),
		listed: map[int64][]listedPart{}, unread: map[string]bool{}, ref: byte(time.Now().UnixNano()), ussdWait: 30 * time.Second,
		reopen: backoff{first: 2 * time.Second, max: 30 * time.Second}}
	m.st.stores, m.st.filed = map[string]bool{}, map[string]bool{}
	m.needInit.Store(true)
	return m, nil
}

// Events wakes the gateway when a message was indicated (+CMTI) or the
// module came back (it may have missed indications meanwhile).
func (m *atModem) Events() <-chan struct{} { return m.events }

// Calls reports incoming calls, one per call, with the caller's number.
func (m *atModem) Calls() <-chan ATCall { return m.calls }

func (m *atModem) signal() {
	select {
	case m.events <- struct{}{}:
	default:
	}
}

// Close releases the serial port.
func (m *atModem) Close() error {
	m.op.Lock()
	defer m.op.Unlock()
	if m.conn != nil {
		m.conn.close()
		m.conn = nil
	}
	return nil
}

// atMaxParts is what the port lets a send use: the gateway decides how
// long each text may be (one SMS, or -reply-parts up to 4).
const atMaxParts = 4

func init() {
	registerFamily(familyAT, func(t portTarget) (modemPort, error) {
		m, err := newATModem(atConfigOf(t))
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return m, nil
	})
}

func (m *atModem) Info() PortInfo {
	m.st.Lock()
	model, fw := m.st.model, m.st.firmware
	m.st.Unlock()
	return PortInfo{Family: familyAT, Model: model, Firmware: fw, Generation: "PDU mode", Login: "none", LoggedIn: true,
		Can: Capabilities{MarkRead: true, Reconnect: true, Reboot: true, USSD: true, Calls: true, Events: true, LinkState: true}}
}

// onURC runs on the line's reader goroutine: it records and signals, and
// never waits.
func (m *atModem) onURC(line string) {
	up := strings.ToUpper(line)
	m.st.Lock()
	defer m.st.Unlock()
	switch {
	case strings.HasPrefix(up, "+CMTI:"):
		if mem, index, ok := parseCMTI(line); ok && len(m.st.pending) < maxPending {
			m.st.stores[mem], m.st.filed[mem] = true, true
			m.st.pending = append(m.st.pending, storeIndex{mem, index, time.Now()})
		} else {
			m.st.overflow = true
		}
		m.st.indications++
		m.signal()
	case strings.HasPrefix(up, "+CPIN:") && !strings.Contains(up, "READY"):
		m.st.simReady = false
	case strings.HasPrefix(up, "+CPIN:"):
		m.log.Info("SIM ready: init again", "urc", line)
		m.simKick.Store(true)
		m.needInit.Store(true)
		m.st.indications++
		m.signal()
	case up == "RDY" || strings.HasPrefix(up, "+CPIN:") || strings.Contains(up, "SMS DONE") ||
		strings.Contains(up, "SMS READY") || strings.HasPrefix(up, "+CFUN:"):
		// The module restarted: its settings are gone and indications
		// may have been missed.
		m.log.Info("module restarted: init again", "urc", line)
		m.needInit.Store(true)
		m.st.indications++
		m.signal()
	case strings.HasPrefix(up, "+CREG:"):
		if s, ok := parseReg(line, true); ok {
			m.st.reg = s
		}
	case strings.HasPrefix(up, "+CEREG:"):
		if s, ok := parseReg(line, true); ok {
			m.st.ereg, m.st.psSeen = s, true
		}
	case strings.HasPrefix(up, "+CGREG:"):
		if s, ok := parseReg(line, true); ok {
			m.st.greg, m.st.psSeen = s, true
		}
	case up == "RING" || strings.HasPrefix(up, "+CRING:") || strings.HasPrefix(up, "+CLIP:"):
		m.onCall(line)
	case strings.HasPrefix(up, "+CUSD:"):
		select {
		case m.ussd <- line:
		default:
		}
	}
}

// onCall reports a call once, at its first +CLIP; rings more than 10 s
// apart are another call. Called with m.st held.
func (m *atModem) onCall(line string) {
	if !strings.HasPrefix(strings.ToUpper(line), "+CLIP:") {
		if time.Since(m.st.ringAt) > 10*time.Second {
			m.st.callSent = false
		}
		m.st.ringAt = time.Now()
		return
	}
	if m.st.callSent {
		return
	}
	m.st.callSent = true
	m.st.ringAt = time.Now()
	select {
	case m.calls <- ATCall{Number: parseCLIP(line), At: time.Now()}:
		m.signal() // a pass at once: the gateway takes calls after a poll
	default:
		m.log.Warn("call not reported: nobody reads Calls", "urc", line)
	}
}

// ensure opens the port if needed (with back-off after failures) and
// initialises the module after an open or a restart.
func (m *atModem) ensure(ctx context.Context) error {
	if m.conn != nil {
		if err := m.conn.gone(); err != nil {
			m.log.Warn("serial line lost: reopening", "err", err)
			m.conn.close()
			m.conn = nil
		}
	}
	if m.conn == nil {
		if wait := time.Until(m.nextOpen); wait > 0 {
			return fmt.Errorf("serial %s: %w, next open in %v", m.cfg.Device, errPortGone, wait.Round(time.Second))
		}
		f, err := openSerial(m.cfg.Device, m.cfg.Baud)
		if err != nil {
			m.nextOpen = time.Now().Add(m.reopen.Next())
			return err
		}
		m.reopen.Reset()
		var trace func(dir, line string)
		if m.cfg.Trace {
			trace = func(dir, line string) { m.log.Debug("at", "dir", dir, "line", line) }
		}
		m.conn = newATConn(f, m.onURC, trace)
		m.needInit.Store(true)
		m.mem1 = ""
	}
	if !m.needInit.Load() {
		return nil
	}
	if time.Now().Before(m.initAfter) && !m.simKick.Swap(false) {
		return m.initErr
	}
	var err error
	// A module that restarts sends its boot URCs over a moment: an init
	// they interrupt is done again once the line is quiet.
	for try := 0; try < 3 && m.needInit.Load(); try++ {
		if err = m.init(ctx); !errors.Is(err, errRestartedInInit) {
			m.initAfter, m.initErr = time.Time{}, nil
			if errors.Is(err, errSIMNotReady) {
				m.initAfter, m.initErr = time.Now().Add(simRetry), err
			}
			return err
		}
		m.conn.quiet(ctx, 300*time.Millisecond, 3*time.Second)
	}
	return err
}

var (
	errRestartedInInit = errors.New("the module restarted during init")
	// errSIMNotReady: the module answers but its SIM is locked, missing
	// or starting; init is tried again every simRetry, or at once when
	// the module says +CPIN: READY.
	errSIMNotReady = errors.New("SIM not ready")
)

const simRetry = 10 * time.Second

// exec runs one command on an ensured line.
func (m *atModem) exec(ctx context.Context, cmd string, timeout time.Duration) ([]string, error) {
	lines, err := m.conn.exec(ctx, cmd, timeout)
	if err == nil {
		m.lastProbe = time.Now()
	}
	return lines, err
}

// init sets the module up as smsgate needs it: no echo, numeric errors,
// PDU mode, one store for everything, +CMTI indications, caller id and
// registration URCs. A failure leaves needInit set: the next call tries
// again.
func (m *atModem) init(ctx context.Context) error {
	m.needInit.Store(false)
	fail := func(err error) error {
		m.needInit.Store(true)
		return fmt.Errorf("init: %w", err)
	}
	var err error
	for try := 0; try < 3; try++ { // the first AT may meet a line full of boot noise
		if _, err = m.exec(ctx, "AT", 2*time.Second); err == nil || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return fail(err)
	}
	m.exec(ctx, "ATE0", m.cfg.Timeout) // echo left on is tolerated
	if _, err := m.exec(ctx, "AT+CMEE=1", m.cfg.Timeout); err != nil {
		m.log.Warn("AT+CMEE=1 refused: errors will be bare", "err", err)
	}
	if err := m.readSIM(ctx); err != nil {
		return fail(err)
	}
	if _, err := m.exec(ctx, "AT+CMGF=0", m.cfg.Timeout); err != nil {
		return fail(fmt.Errorf("PDU mode: %w", err))
	}
	m.findStores(ctx)
	if err := m.setStore(ctx); err != nil {
		return fail(err)
	}
	m.setupURCs(ctx)
	m.readIdentity(ctx)
	if m.needInit.Load() {
		return fail(errRestartedInInit)
	}
	m.fullAt = time.Time{} // messages may have come without an indication
	m.st.Lock()
	m.st.indications++ // list the inbox: indications may have been lost
	m.st.Unlock()
	m.log.Info("module ready", "store", m.primary)
	return nil
}

// setupURCs asks for what smsgate is told without asking: +CMTI for each
// message filed, +CLIP with RING, registration changes. Refusals are
// logged or lived with: the sweep and the probe cover for them.
func (m *atModem) setupURCs(ctx context.Context) {
	if _, err := m.exec(ctx, "AT+CNMI=2,1,0,0,0", m.cfg.Timeout); err != nil {
		if _, err := m.exec(ctx, "AT+CNMI=2,1", m.cfg.Timeout); err != nil {
			m.log.Warn("no +CMTI indications: messages wait for the sweep", "err", err)
		}
	}
	m.exec(ctx, "AT+CLIP=1", m.cfg.Timeout)
	_, err := m.exec(ctx, "AT+CREG=1", m.cfg.Timeout)
	m.regURC = err == nil
	m.exec(ctx, "AT+CEREG=1", m.cfg.Timeout) // 2G modules refuse it
	m.exec(ctx, "AT+CGREG=1", m.cfg.Timeout) // packet service on 2G/3G
	m.readReg(ctx)
}

// readIdentity reads the model and firmware for Info.
func (m *atModem) readIdentity(ctx context.Context) {
	if lines, err := m.exec(ctx, "AT+CGMM", m.cfg.Timeout); err == nil && len(lines) > 0 {
		m.st.Lock()
		m.st.model = sanitizeText(clip(lines[0], 60))
		m.st.Unlock()
	}
	if lines, err := m.exec(ctx, "AT+CGMR", m.cfg.Timeout); err == nil && len(lines) > 0 {
		m.st.Lock()
		m.st.firmware = sanitizeText(clip(strings.TrimPrefix(lines[0], "+CGMR: "), 60))
		m.st.Unlock()
	}
}

func (m *atModem) readSIM(ctx context.Context) error {
	lines, err := m.exec(ctx, "AT+CPIN?", m.cfg.Timeout)
	ready := err == nil && len(lines) > 0 && strings.Contains(strings.ToUpper(lines[0]), "READY")
	m.st.Lock()
	m.st.simReady = ready
	m.st.Unlock()
	if err != nil {
		return fmt.Errorf("SIM: %w", err)
	}
	if !ready {
		return fmt.Errorf("%w: %q", errSIMNotReady, clip(strings.Join(lines, " "), 60))
	}
	return nil
}

// findStores adds to the sweep the SIM and the module's memory, where the
// module has them, and whatever store it was using: messages may wait there
// from before smsgate ran (or set AT+CPMS). "MT" (both as one) and the
// broadcast and status report stores are left out.
func (m *atModem) findStores(ctx context.Context) {
	var names []string
	if lines, err := m.exec(ctx, "AT+CPMS=?", m.cfg.Timeout); err == nil && len(lines) > 0 {
		names = append(names, parseCPMSSupport(lines[0])...)
	}
	if lines, err := m.exec(ctx, "AT+CPMS?", m.cfg.Timeout); err == nil && len(lines) > 0 {
		for _, s := range parseCPMS(lines[0]) {
			names = append(names, strings.ToUpper(s.Name))
		}
	}
	m.st.Lock()
	defer m.st.Unlock()
	for _, n := range names {
		if n == "SM" || n == "ME" {
			m.st.stores[n] = true
		}
	}
}

// setStore asks for the configured store for reading, writing and
// receiving, or the SIM when the module refuses it.
func (m *atModem) setStore(ctx context.Context) error {
	var err error
	for _, s := range []string{m.cfg.Store, "SM"} {
		if _, err = m.exec(ctx, fmt.Sprintf("AT+CPMS=%q,%q,%q", s, s, s), m.cfg.Timeout); err == nil {
			m.primary, m.mem1 = s, s
			return nil
		}
	}
	return fmt.Errorf("store: %w", err)
}

func (m *atModem) readReg(ctx context.Context) {
	for _, q := range []string{"AT+CREG?", "AT+CEREG?", "AT+CGREG?"} {
		lines, err := m.exec(ctx, q, m.cfg.Timeout)
		if err != nil || len(lines) == 0 {
			continue
		}
		if s, ok := parseReg(lines[0], false); ok {
			m.st.Lock()
			switch q {
			case "AT+CREG?":
				m.st.reg = s
			case "AT+CEREG?":
				m.st.ereg, m.st.psSeen = s, true
			default:
				m.st.greg, m.st.psSeen = s, true
			}
			m.st.Unlock()
		}
	}
}

// Poll costs no command while the line is quiet and a command succeeded
// within ProbeEvery; then a bare AT proves the module alive (AT+CREG? when
// registration does not come as URCs).
func (m *atModem) Poll(ctx context.Context) (PollState, error) {
	m.op.Lock()
	defer m.op.Unlock()
	if err := m.ensure(ctx); errors.Is(err, errSIMNotReady) {
		return m.pollState(), nil // the module answers: healing sees the SIM
	} else if err != nil {
		return m.pollState(), err
	}
	if time.Since(m.lastProbe) >= m.cfg.ProbeEvery {
		probe := "AT"
		if !m.regURC {
			probe = "AT+CREG?"
		}
		lines, err := m.exec(ctx, probe, m.cfg.Timeout)
		if err != nil {
			return m.pollState(), fmt.Errorf("probe: %w", err)
		}
		if s, ok := firstReg(lines); ok {
			m.st.Lock()
			m.st.reg = s
			m.st.Unlock()
		}
	}
	return m.pollState(), nil
}

func firstReg(lines []string) (int, bool) {
	if len(lines) == 0 {
		return 0, false
	}
	return parseReg(lines[0], false)
}

// pollState: the data link over the module (pppd, QMI) is not smsgate's
// to see, and -check-host judges it; what the module says of its packet
// service (+CGREG, +CEREG, as URCs: no command) stands for it, so that a
// module registered for SMS but dropped from data is healed by a detach
// and attach. A module that answers neither has registration stand for it.
func (m *atModem) pollState() PollState {
	m.st.Lock()
	defer m.st.Unlock()
	reg := registered(m.st.reg) || registered(m.st.ereg) || registered(m.st.greg)
	data := reg
	if m.st.psSeen {
		data = psRegistered(m.st.greg) || psRegistered(m.st.ereg)
	}
	return PollState{Unread: "at:" + strconv.Itoa(m.st.indications), Connected: data,
		SIMReady: m.st.simReady, Registered: reg, DataUp: data}
}

// psRegistered: registered for the packet service, home (1) or roaming
// (5); the "SMS only" states carry no data.
func psRegistered(stat int) bool { return stat == 1 || stat == 5 }

// useStore points reads and deletes (mem1) at store.
func (m *atModem) useStore(ctx context.Context, store string) error {
	if m.mem1 == store {
		return nil
	}
	if _, err := m.exec(ctx, fmt.Sprintf("AT+CPMS=%q", store), m.cfg.Timeout); err != nil {
		m.mem1 = ""
		return fmt.Errorf("use store %s: %w", store, err)
	}
	m.mem1 = store
	return nil
}

// storeIDBase keeps ids of different stores apart: the store's index plus
// a base per store name, the same from run to run.
func storeIDBase(store string) int64 {
	switch store {
	case "SM":
		return 0
	case "ME":
		return 100000
	case "MT":
		return 200000
	}
	return 900000
}

// Inbox lists the receiving store and any other a +CMTI named, merges
// long messages, and remembers where each message's parts are.
func (m *atModem) Inbox(ctx context.Context) ([]SMS, error) {
	m.op.Lock()
	defer m.op.Unlock()
	if err := m.ensure(ctx); err != nil {
		return nil, err
	}
	return m.inbox(ctx)
}

func (m *atModem) inbox(ctx context.Context) ([]SMS, error) {
	stores := []string{m.primary}
	m.st.Lock()
	for s := range m.st.stores {
		if s != m.primary {
			stores = append(stores, s)
		}
	}
	pending, overflow := m.st.pending, m.st.overflow
	m.st.pending, m.st.overflow = nil, false
	m.st.Unlock()
	sort.Strings(stores[1:])
	full := overflow || m.fullAt.IsZero() || time.Since(m.fullAt) >= m.cfg.SweepEvery
	for _, s := range stores {
		_, known := m.cache[s]
		full = full || !known
	}
	var err error
	if full {
		err = m.listAll(ctx, stores)
		m.dropListed()
	} else {
		err = m.readIndicated(ctx, pending)
	}
	if err != nil {
		m.st.Lock() // read them again next time
		m.st.pending = append(pending, m.st.pending...)
		m.st.Unlock()
		return nil, err
	}
	return m.fromCache(stores), nil
}

// listAll lists every store (AT+CMGL=4): the sweep, and the first listing
// after an open or a restart.
func (m *atModem) listAll(ctx context.Context, stores []string) error {
	cache := map[string]map[int]cmglEntry{}
	// The receiving store last, so that reads after it need no switch.
	order := append(append([]string(nil), stores[1:]...), stores[0])
	for _, store := range order {
		if err := m.useStore(ctx, store); err != nil {
			m.fullAt = time.Time{}
			return err
		}
		lines, err := m.exec(ctx, "AT+CMGL=4", 4*m.cfg.Timeout)
		if err != nil {
			m.fullAt = time.Time{}
			return fmt.Errorf("list %s: %w", store, err)
		}
		entries, problems := parseCMGL(lines)
		for _, p := range problems {
			m.log.Warn("listing", "store", store, "problem", p)
		}
		cache[store] = map[int]cmglEntry{}
		for _, e := range entries {
			cache[store][e.Index] = e
			m.noteUnread(store, e)
		}
	}
	m.cache, m.fullAt = cache, time.Now()
	return nil
}

// dropListed forgets the indications that came before the listing ended
// for an index it listed: reading them again would find what it found.
func (m *atModem) dropListed() {
	m.st.Lock()
	defer m.st.Unlock()
	kept := m.st.pending[:0]
	for _, p := range m.st.pending {
		if _, listed := m.cache[p.store][p.index]; !listed || p.at.After(m.fullAt) {
			kept = append(kept, p)
		}
	}
	m.st.pending = kept
}

// readIndicated reads only the indexes +CMTI named since the last listing
// (AT+CMGR each): on a slow UART, a full listing of a store that holds
// strangers' messages would cost a second a dozen of them.
func (m *atModem) readIndicated(ctx context.Context, pending []storeIndex) error {
	for _, p := range pending {
		if _, ok := m.cache[p.store]; !ok {
			m.cache[p.store] = map[int]cmglEntry{}
		}
		e, ok, err := m.readIndex(ctx, p.store, p.index)
		if err != nil {
			return err
		}
		if ok {
			m.cache[p.store][p.index] = e
			m.noteUnread(p.store, e)
		} else {
			delete(m.cache[p.store], p.index)
		}
	}
	return nil
}

// readIndex reads one index with AT+CMGR: ok false when it holds nothing.
func (m *atModem) readIndex(ctx context.Context, store string, index int) (cmglEntry, bool, error) {
	if err := m.useStore(ctx, store); err != nil {
		return cmglEntry{}, false, err
	}
	lines, err := m.exec(ctx, fmt.Sprintf("AT+CMGR=%d", index), 2*m.cfg.Timeout)
	var ae *atError
	if errors.As(err, &ae) && ae.Kind == "+CMS ERROR" && (ae.code() == 321 || strings.Contains(strings.ToLower(ae.Code), "invalid")) {
		return cmglEntry{}, false, nil // invalid memory index: nothing there
	}
	if err != nil {
		return cmglEntry{}, false, fmt.Errorf("read %s %d: %w", store, index, err)
	}
	stat, pdu, ok := parseCMGR(lines)
	return cmglEntry{Index: index, Stat: stat, PDU: pdu}, ok && pdu != "", nil
}

// noteUnread remembers a part the module showed unread: it stays unread for
// smsgate until MarkRead, though reading it made it read in the module.
func (m *atModem) noteUnread(store string, e cmglEntry) {
	if e.Stat == 0 {
		m.unread[partKey(store, e.Index, e.PDU)] = true
	}
}

// fromCache makes the inbox of what the stores hold.
func (m *atModem) fromCache(stores []string) []SMS {
	var out []SMS
	listed := map[int64][]listedPart{}
	seen := map[string]bool{}
	for _, store := range stores {
		var entries []cmglEntry
		for _, e := range m.cache[store] {
			entries = append(entries, e)
		}
		sort.Slice(entries, func(i, j int) bool { return entries[i].Index < entries[j].Index })
		for _, msg := range m.decodeStore(store, entries, seen) {
			out = append(out, msg.sms)
			listed[msg.sms.ID] = msg.parts
		}
	}
	m.listed = listed
	for k := range m.unread {
		if !seen[k] {
			delete(m.unread, k) // gone from the store
		}
	}
	return out
}

type listedSMS struct {
	sms   SMS
	parts []listedPart
}

// decodeStore turns one store's listing into messages. A PDU that does not
// decode is still listed, from nobody and Unreadable, so that it can be
// seen (smsgate list) and deleted by hand; the gateway never acts on it,
// marks it nor deletes it: it may be the owner's command.
func (m *atModem) decodeStore(store string, entries []cmglEntry, seen map[string]bool) []listedSMS {
	label := "sim"
	if m.receives(store) {
		label = "device" // where room is made
	}
	var parts []storedPart
	var out []listedSMS
	for _, e := range entries {
		if e.Stat == 2 || e.Stat == 3 {
			continue // stored outgoing messages are not the inbox
		}
		key := partKey(store, e.Index, e.PDU)
		seen[key] = true
		read := !m.unread[key] // the module's status is changed by reading
		p, err := decodeDeliverPDU(e.PDU)
		if err != nil {
			out = append(out, listedSMS{
				sms: SMS{ID: storeIDBase(store) + int64(e.Index), Read: read, Complete: true, Store: label, Problem: err.Error(),
					Unreadable: "PDU does not decode: " + err.Error()},
				parts: []listedPart{{store, e.Index, e.PDU}}})
			continue
		}
		parts = append(parts, storedPart{Index: e.Index, Read: read, PDU: e.PDU, pduPart: p})
	}
	for _, im := range mergeParts(parts) {
		first := im.Parts[0]
		s := SMS{ID: storeIDBase(store) + int64(lowestIndex(im)), From: first.From, Text: im.Text,
			Time: first.Time, RawDate: first.RawDate, Read: true, Complete: im.Complete, Store: label,
			Problem: strings.Join(im.Problems, "; ")}
		var where []listedPart
		for _, p := range im.Parts {
			s.Read = s.Read && p.Read
			where = append(where, listedPart{store, p.Index, p.PDU})
		}
		out = append(out, listedSMS{s, where})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].sms.ID < out[j].sms.ID })
	return out
}

// receives: SMS arrive in store (the one asked for, or one a +CMTI named).
func (m *atModem) receives(store string) bool {
	m.st.Lock()
	defer m.st.Unlock()
	return store == m.primary || m.st.filed[store]
}

func partKey(store string, index int, pdu string) string {
	return store + "/" + strconv.Itoa(index) + "/" + strings.ToUpper(pdu)
}

// partsOf finds where a message's parts are: from the last listing, or a
// fresh one when the id is not in it.
func (m *atModem) partsOf(ctx context.Context, id int64) ([]listedPart, error) {
	if p, ok := m.listed[id]; ok {
		return p, nil
	}
	if _, err := m.inbox(ctx); err != nil {
		return nil, err
	}
	if p, ok := m.listed[id]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("sms %d: not in the inbox", id)
}

// Delete deletes every part of each message. Before each AT+CMGD it reads
// the index back: a part already gone counts as deleted, and an index that
// now holds another message is left alone, so that a message never lists
// is never deleted.
func (m *atModem) Delete(ctx context.Context, ids ...int64) error {
	m.op.Lock()
	defer m.op.Unlock()
	if err := m.ensure(ctx); err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		if err := m.deleteOne(ctx, id); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (m *atModem) deleteOne(ctx context.Context, id int64) error {
	parts, err := m.partsOf(ctx, id)
	if err != nil {
		return fmt.Errorf("delete sms %d: %w", id, err)
	}
	for _, p := range parts {
		held, err := m.holds(ctx, p)
		if err != nil {
			return fmt.Errorf("delete sms %d: %w", id, err)
		}
		if !held {
			continue
		}
		if _, err := m.exec(ctx, fmt.Sprintf("AT+CMGD=%d", p.index), 2*m.cfg.Timeout); err != nil {
			return fmt.Errorf("delete sms %d part at %s %d: %w", id, p.store, p.index, err)
		}
		m.forget(p)
	}
	delete(m.listed, id)
	return nil
}

// holds reads a part's index back: true when it still holds the PDU
// listed, false when it is empty, an error when it holds another one.
func (m *atModem) holds(ctx context.Context, p listedPart) (bool, error) {
	e, ok, err := m.readIndex(ctx, p.store, p.index)
	if err != nil {
		return false, err
	}
	if !ok {
		m.forget(p)
		return false, nil
	}
	if !samePDU(e.PDU, p.pdu) {
		m.fullAt = time.Time{} // the cache is behind: list everything next time
		return false, fmt.Errorf("%s index %d now holds another message: left alone", p.store, p.index)
	}
	return true, nil
}

// samePDU compares two stored messages by their TPDU: the SMSC field in
// front is the module's to write, and may not come the same way from
// AT+CMGL and AT+CMGR.
func samePDU(a, b string) bool {
	ta, tb := tpduHex(a), tpduHex(b)
	return ta != "" && strings.EqualFold(ta, tb)
}

func tpduHex(s string) string {
	s = strings.TrimSpace(s)
	if len(s) < 2 {
		return s
	}
	n, err := strconv.ParseUint(s[:2], 16, 8)
	if err != nil || 2+2*int(n) > len(s) {
		return s
	}
	return s[2+2*int(n):]
}

// forget drops a part deleted or found gone.
func (m *atModem) forget(p listedPart) {
	if c := m.cache[p.store]; c != nil {
		delete(c, p.index)
	}
	delete(m.unread, partKey(p.store, p.index, p.pdu))
}

// MarkRead reads each part (AT+CMGR marks a received message read).
func (m *atModem) MarkRead(ctx context.Context, ids ...int64) error {
	m.op.Lock()
	defer m.op.Unlock()
	if err := m.ensure(ctx); err != nil {
		return err
	}
	for _, id := range ids {
		parts, err := m.partsOf(ctx, id)
		if err != nil {
			return fmt.Errorf("mark read %d: %w", id, err)
		}
		for _, p := range parts {
			if _, err := m.holds(ctx, p); err != nil {
				return fmt.Errorf("mark read %d: %w", id, err)
			}
			delete(m.unread, partKey(p.store, p.index, p.pdu))
		}
	}
	return nil
}

// Send sends text in PDU mode. Once a PDU went out after the prompt, an
// answer that does not come is errSendUnconfirmed (never sent again), as
// is a later part failing after an earlier one went.
func (m *atModem) Send(ctx context.Context, number, text string) error {
	m.op.Lock()
	defer m.op.Unlock()
	m.ref++
	pdus, err := encodeSubmit(number, text, m.ref, m.cfg.MaxParts)
	if err != nil {
		return err
	}
	if err := m.ensure(ctx); err != nil {
		return fmt.Errorf("send to %s: %w", number, err)
	}
	for i, p := range pdus {
		lines, wrote, err := m.conn.execPDU(ctx, fmt.Sprintf("AT+CMGS=%d", p.Length), p.Hex, m.cfg.Timeout, sendConfirmWait)
		confirmed := err == nil && hasPrefixLine(lines, "+CMGS:")
		switch {
		case confirmed:
			m.lastProbe = time.Now()
			continue
		case i > 0:
			return fmt.Errorf("send to %s: part %d of %d: %v: %w", number, i+1, len(pdus), err, errSendUnconfirmed)
		case wrote && (err == nil || !isATError(err)):
			return fmt.Errorf("send to %s: %v: %w", number, err, errSendUnconfirmed)
		}
		if isATError(err) {
			// +CMS ERROR: the module said no (no credit, no
			// network), as a ZTE {"result":"failure"}.
			return fmt.Errorf("send to %s: %w: %w", number, errRefused, err)
		}
		return fmt.Errorf("send to %s: %w", number, err)
	}
	return nil
}

func isATError(err error) bool {
	var ae *atError
	return errors.As(err, &ae)
}

func hasPrefixLine(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(strings.ToUpper(l), prefix) {
			return true
		}
	}
	return false
}

// Capacity is the receiving store's use.
func (m *atModem) Capacity(ctx context.Context) (Capacity, error) {
	m.op.Lock()
	defer m.op.Unlock()
	if err := m.ensure(ctx); err != nil {
		return Capacity{}, err
	}
	lines, err := m.exec(ctx, "AT+CPMS?", m.cfg.Timeout)
	if err != nil {
		return Capacity{}, fmt.Errorf("capacity: %w", err)
	}
	if len(lines) == 0 {
		return Capacity{}, errors.New("capacity: empty AT+CPMS? answer")
	}
	stores := parseCPMS(lines[0])
	if len(stores) < 3 {
		return Capacity{}, fmt.Errorf("capacity: AT+CPMS? answer %q", clip(lines[0], 60))
	}
	c := Capacity{Total: stores[2].Total, Used: stores[2].Used}
	return m.fullestOther(ctx, c), nil
}

// fullestOther is c, or the use of another store that holds messages when
// it has less room: a module that files incoming SMS on the SIM whatever
// AT+CPMS said fills that store, not the one asked for.
func (m *atModem) fullestOther(ctx context.Context, c Capacity) Capacity {
	var others []string
	for s, held := range m.cache {
		if s != m.primary && len(held) > 0 && m.receives(s) {
			others = append(others, s)
		}
	}
	sort.Strings(others)
	for _, s := range others {
		if m.useStore(ctx, s) != nil {
			continue
		}
		lines, err := m.exec(ctx, "AT+CPMS?", m.cfg.Timeout)
		if err != nil || len(lines) == 0 {
			continue
		}
		if st := parseCPMS(lines[0]); len(st) > 0 && st[0].Total > 0 && st[0].Total-st[0].Used < c.Total-c.Used {
			c = Capacity{Total: st[0].Total, Used: st[0].Used}
		}
	}
	return c
}

// Status reads SIM, registration, signal, operator and packet attach.
func (m *atModem) Status(ctx context.Context) (ModemStatus, error) {
	m.op.Lock()
	defer m.op.Unlock()
	if err := m.ensure(ctx); err != nil {
		return ModemStatus{Bars: -1}, err
	}
	st := ModemStatus{Bars: -1}
	if err := m.readSIM(ctx); err == nil {
		st.SIMReady = true
	}
	m.readReg(ctx)
	ps := m.pollState()
	st.Network = "no service"
	if ps.Registered {
		st.Network = "registered"
	}
	if lines, err := m.exec(ctx, "AT+CSQ", m.cfg.Timeout); err == nil && len(lines) > 0 {
		if rssi, ok := parseCSQ(lines[0]); ok {
			st.SignalDB = strconv.Itoa(-113 + 2*rssi) // the number: status adds the unit
			st.Bars = min(5, (rssi+4)/6)
		}
	}
	if lines, err := m.exec(ctx, "AT+COPS?", m.cfg.Timeout); err == nil && len(lines) > 0 {
		oper, tech := parseCOPS(lines[0])
		st.Operator = oper
		if tech != "" && ps.Registered {
			st.Network = tech
		}
	}
	if lines, err := m.exec(ctx, "AT+CGATT?", m.cfg.Timeout); err == nil && len(lines) > 0 {
		f := atFields(lines[0])
		st.DataUp = len(f) > 0 && f[0] == "1"
		if !st.DataUp {
			st.Data = "packet service detached"
		}
	}
	return st, nil
}

// Reboot restarts the module (AT+CFUN=1,1); it comes back with RDY, or as
// a new device node, and is set up again then.
func (m *atModem) Reboot(ctx context.Context) error {
	m.op.Lock()
	defer m.op.Unlock()
	if err := m.ensure(ctx); err != nil {
		return fmt.Errorf("reboot: %w", err)
	}
	if _, err := m.exec(ctx, "AT+CFUN=1,1", atRebootWait); err != nil {
		return fmt.Errorf("reboot: %w", err)
	}
	m.needInit.Store(true)
	return nil
}

// Reconnect detaches the packet service and attaches it again; a module
// that refuses that has its radio turned off and on.
func (m *atModem) Reconnect(ctx context.Context) (string, error) {
	m.op.Lock()
	defer m.op.Unlock()
	if err := m.ensure(ctx); err != nil {
		return "", fmt.Errorf("reconnect: %w", err)
	}
	if _, err := m.exec(ctx, "AT+CGATT=0", atDetachWait); err == nil {
		if _, err := m.exec(ctx, "AT+CGATT=1", atAttachWait); err != nil {
			return "packet service detached, attach failed", fmt.Errorf("reconnect: %w", err)
		}
		m.readReg(ctx) // what the attach gave, before the next poll judges it
		return "packet service detached and attached again", nil
	}
	if _, err := m.exec(ctx, "AT+CFUN=0", atRadioOffWait); err != nil {
		return "", fmt.Errorf("reconnect: radio off: %w", err)
	}
	select {
	case <-time.After(atRadioPause):
	case <-ctx.Done():
	}
	if _, err := m.exec(context.WithoutCancel(ctx), "AT+CFUN=1", atRadioOnWait); err != nil {
		return "radio off, on failed", fmt.Errorf("reconnect: radio on: %w", err)
	}
	m.needInit.Store(true) // the SIM may have been powered down with the radio
	return "radio turned off and on again", nil
}

// errNoUSSDAnswer: the network did not answer a USSD code in time.
var errNoUSSDAnswer = errors.New("no answer")

// USSD sends a code (*100#) and returns the network's answer.
func (m *atModem) USSD(ctx context.Context, code string) (string, error) {
	if code == "" || len(code) > 40 || strings.ContainsAny(code, "\"\r\n\x1a\x1b") {
		return "", fmt.Errorf("ussd %q: not a USSD code", code)
	}
	m.op.Lock()
	defer m.op.Unlock()
	if err := m.ensure(ctx); err != nil {
		return "", fmt.Errorf("ussd %s: %w", code, err)
	}
	select {
	case <-m.ussd: // a stale answer
	default:
	}
	if _, err := m.exec(ctx, fmt.Sprintf("AT+CUSD=1,%q,15", code), 10*time.Second); err != nil {
		return "", fmt.Errorf("ussd %s: %w", code, err)
	}
	t := time.NewTimer(m.ussdWait)
	defer t.Stop()
	select {
	case line := <-m.ussd:
		text, more, ok := parseCUSD(line)
		if more {
			m.exec(ctx, "AT+CUSD=2", m.cfg.Timeout) // end the session: smsgate does not answer menus
		}
		if !ok {
			return "", fmt.Errorf("ussd %s: the network refused it (%s)", code, clip(line, 60))
		}
		return text, nil
	case <-t.C:
		m.exec(ctx, "AT+CUSD=2", m.cfg.Timeout)
		return "", fmt.Errorf("ussd %s: %w in %v", code, errNoUSSDAnswer, m.ussdWait)
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

package main

// The AT line discipline: commands and their answers framed by final result
// codes, unsolicited result codes (URCs) picked out wherever they arrive,
// echo dropped if the module has it on, a command that never answers timed
// out and the line resynchronised before the next one.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var (
	// errATTimeout: the module did not finish its answer in time.
	errATTimeout = errors.New("no answer from the module")
	// errPortGone: the serial line failed (device node vanished, USB
	// re-enumeration); it is reopened with back-off.
	errPortGone = errors.New("serial port gone")
)

// atError is a command's error result: ERROR, +CMS ERROR: n, +CME ERROR: n
// (numeric with AT+CMEE=1, words with AT+CMEE=2).
type atError struct {
	Cmd  string
	Kind string // "ERROR", "+CMS ERROR", "+CME ERROR", "NO CARRIER", ...
	Code string // "" for a bare ERROR
}

func (e *atError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("%s: %s", e.Cmd, e.Kind)
	}
	return fmt.Sprintf("%s: %s: %s", e.Cmd, e.Kind, e.Code)
}

// code is the numeric code, -1 when there is none or it is in words.
func (e *atError) code() int {
	n, err := strconv.Atoi(e.Code)
	if err != nil {
		return -1
	}
	return n
}

// Kinds of line, as classifyLine sees them.
type lineKind int

const (
	lineData   lineKind = iota // part of the answer in progress
	lineOK                     // final: success
	lineError                  // final: an error result
	lineEcho                   // the command itself, echoed back
	lineURC                    // unsolicited, whenever it comes
	linePrompt                 // "> ": the module waits for the PDU
)

// urcPrefixes are lines that are never part of an answer, unless the
// command in flight asked for that very prefix (AT+CPIN? answers +CPIN:,
// AT+CREG? answers +CREG:).
var urcPrefixes = []string{
	"+CMTI:", "+CMT:", "+CDSI:", "+CDS:", "RING", "+CLIP:", "+CRING:", "+CUSD:",
	"RDY", "+CPIN:", "+CFUN:", "SMS READY", "SMS DONE", "CALL READY", "PB DONE", "+QIND:",
	"+CREG:", "+CEREG:", "+CGREG:", "NORMAL POWER DOWN", "+CTZV:", "*PSUTTZ:", "DST:", "+PACSP",
}

// finalErrors are the error result codes (V.250 and TS 27.007/27.005).
var finalErrors = []string{"ERROR", "+CMS ERROR:", "+CME ERROR:", "NO CARRIER", "BUSY", "NO ANSWER", "NO DIALTONE"}

// answerPrefix is the information response prefix of a command:
// "AT+CMGL=4" answers "+CMGL:".
func answerPrefix(cmd string) string {
	c := strings.ToUpper(strings.TrimSpace(cmd))
	c, ok := strings.CutPrefix(c, "AT")
	if !ok || !strings.HasPrefix(c, "+") {
		return ""
	}
	if i := strings.IndexAny(c, "=?"); i >= 0 {
		c = c[:i]
	}
	return c + ":"
}

// classifyLine says what a line is while cmd is in flight ("" when none).
func classifyLine(line, cmd string) lineKind {
	up := strings.ToUpper(line)
	if cmd != "" && strings.EqualFold(line, strings.TrimSpace(cmd)) {
		return lineEcho
	}
	if line == ">" || line == "> " {
		return linePrompt
	}
	if up == "OK" {
		return lineOK
	}
	if cmd != "" {
		for _, f := range finalErrors {
			if up == f || (strings.HasSuffix(f, ":") && strings.HasPrefix(up, f)) {
				return lineError
			}
		}
	}
	if p := answerPrefix(cmd); p != "" && strings.HasPrefix(up, p) && p != "+CMTI:" && p != "+CUSD:" {
		return lineData
	}
	for _, p := range urcPrefixes {
		if strings.HasPrefix(up, p) {
			return lineURC
		}
	}
	if cmd == "" {
		return lineURC // nothing asked: whatever comes is unsolicited
	}
	return lineData
}

// parseFinalError reads an error result line.
func parseFinalError(cmd, line string) *atError {
	kind, code, ok := strings.Cut(line, ":")
	if !ok {
		return &atError{Cmd: cmd, Kind: strings.TrimSpace(line)}
	}
	return &atError{Cmd: cmd, Kind: strings.ToUpper(strings.TrimSpace(kind)), Code: strings.TrimSpace(code)}
}

// maxLine bounds a line: the longest honest one is a PDU of about 360 hex
// digits or a USSD answer; a module spewing noise cannot grow memory.
const maxLine = 4096

// lineSplitter cuts the byte stream into lines (CR, LF or both end one) and
// the "> " prompt, which comes with no line end.
type lineSplitter struct {
	buf     []byte
	tooLong bool
}

// feed returns the complete lines in b, without blank ones. Ctrl-Z and NUL
// (echoed PDU terminator, line noise) are dropped.
func (s *lineSplitter) feed(b []byte) []string {
	var out []string
	for _, c := range b {
		switch c {
		case '\r', '\n':
			if !s.tooLong && len(strings.TrimSpace(string(s.buf))) > 0 {
				out = append(out, strings.TrimSpace(string(s.buf)))
			}
			s.buf, s.tooLong = s.buf[:0], false
			continue
		case 0x1A, 0x00:
			continue
		}
		if len(s.buf) >= maxLine {
			s.tooLong = true
			continue
		}
		s.buf = append(s.buf, c)
		if len(s.buf) == 2 && s.buf[0] == '>' && s.buf[1] == ' ' {
			out = append(out, "> ")
			s.buf = s.buf[:0]
		}
	}
	return out
}

// atConn runs one open serial line: a reader goroutine that hands URCs to
// onURC at once and answer lines to the command in flight; exec sends one
// command at a time.
type atConn struct {
	rw    io.ReadWriteCloser
	onURC func(line string)
	trace func(dir, line string) // optional: every line in and out, for tests and -v

	mu      sync.Mutex // one command at a time
	cmd     atomic.Pointer[string]
	answers chan string
	dead    chan struct{}
	readErr error // set before dead is closed
	resync  bool  // the last command timed out: resynchronise first
	sent    atomic.Int64
	lastRx  atomic.Int64 // unix nanos of the last byte read
	rxBytes atomic.Int64 // bytes read: what a pass costs on a slow UART
	closing atomic.Bool
	pending string // a +CUSD: line waiting for its closing quote
}

func newATConn(rw io.ReadWriteCloser, onURC func(string), trace func(dir, line string)) *atConn {
	c := &atConn{rw: rw, onURC: onURC, trace: trace, answers: make(chan string, 512), dead: make(chan struct{})}
	empty := ""
	c.cmd.Store(&empty)
	go c.readLoop()
	return c
}

func (c *atConn) readLoop() {
	var sp lineSplitter
	buf := make([]byte, 1024)
	for {
		n, err := c.rw.Read(buf)
		if n > 0 {
			c.lastRx.Store(time.Now().UnixNano())
			c.rxBytes.Add(int64(n))
			for _, line := range sp.feed(buf[:n]) {
				c.dispatch(line)
			}
		}
		if err != nil {
			c.readErr = fmt.Errorf("read: %w: %w", errPortGone, err)
			close(c.dead)
			return
		}
	}
}

// dispatch routes a line. A +CUSD: line whose quoted text has a line break
// in it is joined up before it goes.
func (c *atConn) dispatch(line string) {
	if c.pending != "" {
		line = c.pending + "\n" + line
		c.pending = ""
	}
	if strings.HasPrefix(strings.ToUpper(line), "+CUSD:") && strings.Count(line, `"`)%2 == 1 && len(line) < maxLine {
		c.pending = line
		return
	}
	if c.trace != nil {
		c.trace("<", line)
	}
	cmd := *c.cmd.Load()
	if classifyLine(line, cmd) == lineURC {
		c.onURC(line)
		return
	}
	if cmd == "" {
		return // a late answer to a command given up on: resync drops it
	}
	select {
	case c.answers <- line:
	default: // the command's reader is gone; resync starts clean
	}
}

// gone reports the read error once the line failed, nil while it works.
func (c *atConn) gone() error {
	select {
	case <-c.dead:
		return c.readErr
	default:
		return nil
	}
}

func (c *atConn) close() {
	c.closing.Store(true)
	c.rw.Close()
}

func (c *atConn) write(s string) error {
	if c.trace != nil {
		c.trace(">", strings.TrimRight(s, "\r\x1a"))
	}
	if _, err := io.WriteString(c.rw, s); err != nil {
		return fmt.Errorf("write: %w: %w", errPortGone, err)
	}
	return nil
}

// exec sends cmd and returns its answer lines (echo and URCs taken out),
// or its error result. A timeout leaves the line to be resynchronised
// before the next command.
func (c *atConn) exec(ctx context.Context, cmd string, timeout time.Duration) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.prepare(ctx); err != nil {
		return nil, err
	}
	c.begin(cmd)
	defer c.end()
	if err := c.write(cmd + "\r"); err != nil {
		return nil, err
	}
	lines, _, err := c.collect(ctx, cmd, timeout, false)
	return lines, err
}

// execPDU sends a command that prompts for data ("> "), then the data and
// Ctrl-Z. wrote says whether the data went out: after that, a missing
// answer means the module may have sent it.
func (c *atConn) execPDU(ctx context.Context, cmd, data string, promptWait, timeout time.Duration) (lines []string, wrote bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.prepare(ctx); err != nil {
		return nil, false, err
	}
	c.begin(cmd)
	defer c.end()
	if err := c.write(cmd + "\r"); err != nil {
		return nil, false, err
	}
	_, prompted, err := c.collect(ctx, cmd, promptWait, true)
	if err != nil || !prompted {
		if errors.Is(err, errATTimeout) {
			c.write("\x1b") // ESC: give up the message, nothing was sent
		}
		return nil, false, err
	}
	if err := c.write(data + "\x1a"); err != nil {
		return nil, true, err
	}
	lines, _, err = c.collect(ctx, data, timeout, false)
	return lines, true, err
}

func (c *atConn) begin(cmd string) {
	c.sent.Add(1)
	c.cmd.Store(&cmd)
}

func (c *atConn) end() {
	empty := ""
	c.cmd.Store(&empty)
}

// collect reads answer lines up to the final result, or up to the prompt
// when wantPrompt.
func (c *atConn) collect(ctx context.Context, cmd string, timeout time.Duration, wantPrompt bool) ([]string, bool, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var lines []string
	for {
		select {
		case line := <-c.answers:
			switch classifyLine(line, cmd) {
			case lineEcho:
			case lineOK:
				return lines, false, nil
			case lineError:
				return lines, false, parseFinalError(strings.TrimSpace(*c.cmd.Load()), line)
			case linePrompt:
				if wantPrompt {
					return lines, true, nil
				}
			default:
				lines = append(lines, line)
			}
		case <-timer.C:
			c.resync = true
			return lines, false, fmt.Errorf("%s: %w in %v", strings.TrimSpace(*c.cmd.Load()), errATTimeout, timeout)
		case <-ctx.Done():
			c.resync = true
			return lines, false, ctx.Err()
		case <-c.dead:
			return lines, false, c.readErr
		}
	}
}

// prepare makes the line ready for a command: after a timeout, it waits
// for the module to go quiet, checks that a bare AT answers OK, and drops
// whatever late answers came, so none is taken for the next command's.
func (c *atConn) prepare(ctx context.Context) error {
	if err := c.gone(); err != nil {
		return err
	}
	c.drain()
	if !c.resync {
		return nil
	}
	c.quiet(ctx, 300*time.Millisecond, 3*time.Second)
	c.begin("AT")
	if err := c.write("AT\r"); err != nil {
		c.end()
		return err
	}
	_, _, err := c.collect(ctx, "AT", 3*time.Second, false)
	c.end()
	if err != nil {
		return fmt.Errorf("resync: %w", err)
	}
	c.quiet(ctx, 100*time.Millisecond, time.Second)
	c.drain()
	c.resync = false
	return nil
}

func (c *atConn) drain() {
	for {
		select {
		case <-c.answers:
		default:
			return
		}
	}
}

// quiet waits until nothing was read for gap, at most max.
func (c *atConn) quiet(ctx context.Context, gap, max time.Duration) {
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) && ctx.Err() == nil && c.gone() == nil {
		last := time.Unix(0, c.lastRx.Load())
		if time.Since(last) >= gap {
			return
		}
		time.Sleep(gap / 4)
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// State is what the gateway must remember across a restart of smsgate or of
// the Pi: forgetting it would hand an attacker fresh PIN guesses, run
// commands that arrived during a lockout, or run a command twice. Add a
// field here (exported, with a JSON name) and it is saved and loaded with
// the rest; keep each field bounded.
type State struct {
	// PINFails holds the times of recent wrong PINs, per sender.
	PINFails map[phoneKey][]time.Time `json:"pin_fails,omitempty"`
	// WrongSecret holds the fingerprints of messages refused for a wrong
	// PIN or code in the last hour: a copy of one (the network delivers
	// some SMS twice) is the same attempt, not another.
	WrongSecret map[string]time.Time `json:"wrong_secret,omitempty"`
	// LockedUntil is when a sender locked out after wrong PINs is heard
	// again.
	LockedUntil map[phoneKey]time.Time `json:"locked_until,omitempty"`
	// Executed holds when each sender's commands ran, for -rate.
	Executed map[phoneKey][]time.Time `json:"executed,omitempty"`
	// RateTold is when a sender was last told about -rate, so that a
	// refusal is said once, not once per refused SMS.
	RateTold map[phoneKey]time.Time `json:"rate_told,omitempty"`
	// Ran is the commands executed recently, for the duplicate rule.
	Ran []ranCommand `json:"ran,omitempty"`
	// LastReboot is when a reboot command last ran.
	LastReboot time.Time `json:"last_reboot,omitzero"`
	// RebootBy is who asked for that reboot: "command" or "healing", for
	// the start alert after it.
	RebootBy string `json:"reboot_by,omitempty"`
	// HealSteps holds when each healing step ran in the last 24 hours, so
	// that -heal-max holds across a reboot of the Pi. At most -heal-max
	// times per step.
	HealSteps map[string][]time.Time `json:"heal_steps,omitempty"`
	// AlertsSent holds when alerts went out in the last 24 hours, so that
	// -alert-max holds across restarts. At most -alert-max.
	AlertsSent []time.Time `json:"alerts_sent,omitempty"`
	// Decided holds the messages decided and still in the inbox (left for
	// the owner, or marked read), id -> fingerprint, so that a restart does
	// not look at them again. Bounded by the inbox.
	Decided map[int64]string `json:"decided,omitempty"`
	// Removed holds the messages whose removal the modem confirmed, until
	// a listing no longer shows them: a modem may answer success and keep
	// the message, which must not be decided (nor run) again. Bounded by
	// the inbox.
	Removed map[int64]removedSMS `json:"removed,omitempty"`
	// NewestSMS is the newest plausible SMS date seen: the clock to judge
	// age by when the Pi's own clock is not plausible (a cold boot without
	// network time).
	NewestSMS time.Time `json:"newest_sms,omitzero"`
	// LastNotice is when the owner was last told the inbox was full.
	LastNotice time.Time `json:"last_notice,omitzero"`
	// UnreadableNotice is when the owner was last told the inbox holds
	// messages smsgate cannot read (unreadable.go): once per
	// fullNoticeGap.
	UnreadableNotice time.Time `json:"unreadable_notice,omitzero"`
	// SharedID holds the fingerprints of allowed senders' commands refused
	// because the modem listed their id with another message, and when:
	// listed alone later they are the same message, refused and told
	// already, never run. Kept ranKeep, at most maxDecided.
	SharedID map[string]time.Time `json:"shared_id,omitempty"`
	// TOTPUsed maps the time steps of the one-time codes accepted lately
	// (-totp) to the message that used each, so that a replayed SMS is
	// refused after a restart too. At most totpRemember entries.
	TOTPUsed map[int64]string `json:"totp_used,omitempty"`
	// LoginRefusals is the modem client's own count of refused logins on
	// firmware that does not count them (Modem.Refusals): without it every
	// restart would spend three more of the owner's attempts.
	LoginRefusals LoginRefusals `json:"login_refusals,omitzero"`
	// Owner is what forwarding, the keep-alive and a pause remember
	// (ownerkit.go); nil in a file from before them.
	Owner *ownerState `json:"owner,omitempty"`
	// Intents are the messages a pass is consuming, saved before the
	// modem is asked to remove them (see intent.go). Bounded by the inbox;
	// empty between passes.
	Intents []intent `json:"intents,omitempty"`
	// Reports are what the owner is still to be told of intents a crash
	// left (Reply is the text), sent and forgotten one by one.
	Reports []intent `json:"reports,omitempty"`
}

// removedSMS is a message the modem said it removed.
type removedSMS struct {
	FP string `json:"fp"`
	// Kept: a listing showed it after its removal was confirmed (warned
	// about once). Tries counts the removals tried again since.
	Kept  bool `json:"kept,omitempty"`
	Tries int  `json:"tries,omitempty"`
}

// ranCommand is one executed command, for the duplicate rule: an SMS with
// the same command from the same sender, dated no later than Before, was
// already in the inbox (or older than something that was) when it ran.
// Sent is the date of the SMS that ran it, when plausible: Before is no
// later than it or the Pi's clock when it ran (Gateway.boundRan).
type ranCommand struct {
	From    phoneKey  `json:"from"`
	Command string    `json:"command"`
	Before  time.Time `json:"before"`
	Sent    time.Time `json:"sent,omitzero"`
}

// maxRan bounds State.Ran: at -rate 10 a number runs 10 commands an hour,
// and a duplicate older than a day is stale anyway.
const (
	maxRan      = 100
	ranKeep     = 24 * time.Hour
	maxDecided  = 2000
	maxStateLen = 1 << 20 // a state file larger than this is not ours
	stateFile   = "state.json"
	// stateLazy is how often a change that only spares a log line after a
	// restart (messages decided, the newest SMS date) is written: a flood
	// must not wear the SD card at every poll.
	stateLazy = time.Minute
)

func newState() *State {
	return &State{
		PINFails: map[phoneKey][]time.Time{}, WrongSecret: map[string]time.Time{}, LockedUntil: map[phoneKey]time.Time{},
		Executed: map[phoneKey][]time.Time{}, RateTold: map[phoneKey]time.Time{}, Decided: map[int64]string{},
		Removed: map[int64]removedSMS{}, TOTPUsed: map[int64]string{}, SharedID: map[string]time.Time{},
	}
}

// fill gives every map a value, whatever the file held.
func (s *State) fill() {
	if s.PINFails == nil {
		s.PINFails = map[phoneKey][]time.Time{}
	}
	if s.WrongSecret == nil {
		s.WrongSecret = map[string]time.Time{}
	}
	if s.LockedUntil == nil {
		s.LockedUntil = map[phoneKey]time.Time{}
	}
	if s.Executed == nil {
		s.Executed = map[phoneKey][]time.Time{}
	}
	if s.RateTold == nil {
		s.RateTold = map[phoneKey]time.Time{}
	}
	if s.Decided == nil {
		s.Decided = map[int64]string{}
	}
	if s.Removed == nil {
		s.Removed = map[int64]removedSMS{}
	}
	if s.TOTPUsed == nil {
		s.TOTPUsed = map[int64]string{}
	}
	if s.SharedID == nil {
		s.SharedID = map[string]time.Time{}
	}
}

// clone is a deep copy, through JSON so that fields added later are copied
// too.
func (s *State) clone() *State {
	b, err := json.Marshal(s)
	c := newState()
	if err == nil {
		_ = json.Unmarshal(b, c)
	}
	c.fill()
	return c
}

// prune forgets what can no longer matter at now, so the state stays small.
func (s *State) prune(now time.Time) {
	for fp, t := range s.WrongSecret {
		if now.Sub(t) >= pinFailWindow {
			delete(s.WrongSecret, fp)
		}
	}
	for k, ts := range s.PINFails {
		if s.PINFails[k] = recent(ts, now, pinFailWindow); len(s.PINFails[k]) == 0 {
			delete(s.PINFails, k)
		}
	}
	for k, until := range s.LockedUntil {
		if !now.Before(until) {
			delete(s.LockedUntil, k)
		}
	}
	for k, ts := range s.Executed {
		if s.Executed[k] = recent(ts, now, time.Hour); len(s.Executed[k]) == 0 {
			delete(s.Executed, k)
		}
	}
	for k, t := range s.RateTold {
		if now.Sub(t) >= time.Hour {
			delete(s.RateTold, k)
		}
	}
	keep := s.Ran[:0:0]
	for _, r := range s.Ran {
		if now.Sub(r.Before) < ranKeep {
			keep = append(keep, r)
		}
	}
	if len(keep) > maxRan {
		keep = keep[len(keep)-maxRan:]
	}
	s.Ran = keep
	for id := range s.Decided {
		if len(s.Decided) <= maxDecided {
			break
		}
		delete(s.Decided, id)
	}
	for id := range s.Removed {
		if len(s.Removed) <= maxDecided {
			break
		}
		delete(s.Removed, id)
	}
	for fp, t := range s.SharedID {
		if now.Sub(t) >= ranKeep || len(s.SharedID) > maxDecided {
			delete(s.SharedID, fp)
		}
	}
}

// stateStore keeps State in a directory, or only in memory when dir is
// empty. A disk that refuses writes is logged, never fatal: the gateway
// goes on with what it remembers in memory.
type stateStore struct {
	dir  string
	log  *slog.Logger
	now  func() time.Time
	last []byte // what the file holds, to skip writes that change nothing
	// tried is when a write was last tried, for SaveSoon; writes counts
	// the writes done.
	tried  time.Time
	writes int
	// failing is the last write error logged, so that a read-only or full
	// disk is said once, not once per poll.
	failing string
	// leftovers are the temporary files interrupted writes left, found
	// when the state was read and removed by the first save: reading
	// the state changes nothing in the directory.
	leftovers []string
}

// openStateStore loads the state in dir. A missing or unreadable file
// costs only what it remembered; it is logged and smsgate starts afresh.
func openStateStore(dir string, log *slog.Logger) (*stateStore, *State) {
	s := &stateStore{dir: dir, log: log, now: time.Now}
	st := newState()
	if dir == "" {
		log.Info("state: memory only (no -state-dir): PIN lockouts, rate counts and the last reboot are forgotten on restart",
			"modem_login", "not sent to a modem that does not report its attempts left (HiLink, ubus, MC7010, MC888): set -state-dir")
		return s, st
	}
	path := filepath.Join(dir, stateFile)
	// A crash between writing a temporary file and renaming it leaves the
	// temporary file behind: one per crash, unless the first save sweeps
	// it.
	s.leftovers, _ = filepath.Glob(filepath.Join(dir, "."+stateFile+".*"))
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		// A FIFO would block the open for ever (no log line, no poll, no
		// supervision); a directory or device is not ours either. Left as
		// it is, and nothing is written in its place.
		log.Error("state: not a regular file; refused: serving from memory only, nothing saved",
			"path", path, "mode", fi.Mode().Type().String())
		s.dir = ""
		return s, st
	}
	b, err := readBounded(path, maxStateLen)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		log.Info("state: none saved yet; starting afresh", "path", path)
		return s, st
	case err != nil:
		log.Warn("state: cannot read; starting without its memory", "path", path, "err", err)
		return s, st
	}
	if err := json.Unmarshal(b, st); err != nil {
		log.Warn("state: corrupt; starting without its memory", "path", path, "err", err)
		return s, newState()
	}
	st.fill()
	s.last = b
	log.Info("state: loaded", "path", path, "bytes", len(b))
	return s, st
}

func readBounded(path string, limit int64) ([]byte, error) {
	// Non-blocking: a FIFO put there after the check must not hang the
	// start either.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return b, nil
}

// Save writes st if it changed, atomically: a temporary file, synced, then
// renamed over the old one, and the directory synced. A crash leaves the
// old file or the new one, never half of one.
func (s *stateStore) Save(st *State) { s.save(st, true) }

// SaveSoon saves st unless a write was tried less than stateLazy ago; the
// next Save or SaveSoon after that writes what changed meanwhile.
func (s *stateStore) SaveSoon(st *State) { s.save(st, false) }

// sweep removes the leftovers of interrupted writes, once.
func (s *stateStore) sweep() {
	if len(s.leftovers) == 0 {
		return
	}
	for _, f := range s.leftovers {
		os.Remove(f)
	}
	s.log.Info("state: removed what an interrupted write left", "files", len(s.leftovers))
	s.leftovers = nil
}

// SaveDurable is Save, saying whether st is on disk now: errNoStateDir
// when the state is kept in memory only, or the write's error.
func (s *stateStore) SaveDurable(st *State) error { return s.save(st, true) }

func (s *stateStore) save(st *State, now bool) error {
	if s.dir == "" {
		return errNoStateDir
	}
	t := s.now()
	if since := t.Sub(s.tried); !now && !s.tried.IsZero() && since >= 0 && since < stateLazy {
		return nil
	}
	s.sweep()
	b, err := json.Marshal(st)
	if err != nil {
		err = fmt.Errorf("encode: %w", err)
		s.failed(err)
		return err
	}
	if bytes.Equal(b, s.last) {
		return nil
	}
	s.tried = t
	s.writes++
	if err := writeAtomic(s.dir, stateFile, b); err != nil {
		s.failed(err)
		return err
	}
	s.last = b
	if s.failing != "" {
		s.log.Warn("state: saving again", "dir", s.dir)
		s.failing = ""
	}
	return nil
}

func (s *stateStore) failed(err error) {
	// Keyed by the root cause (read-only, no space, ...): the temporary
	// file's name changes with every try.
	cause := err
	for u := errors.Unwrap(cause); u != nil; u = errors.Unwrap(cause) {
		cause = u
	}
	if msg := cause.Error(); msg != s.failing {
		s.failing = msg
		s.log.Error("state: not saved; remembered in memory only until the disk takes writes", "dir", s.dir, "err", err)
	}
}

func writeAtomic(dir, name string, b []byte) (err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+name+".*")
	if err != nil {
		return fmt.Errorf("state temp file: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(b); err != nil {
		return fmt.Errorf("write %s: %w", f.Name(), err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", f.Name(), err)
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		// The rename is durable once the directory is: without this a power
		// cut may bring back the old file.
		d.Sync()
		d.Close()
	}
	return nil
}

// stateDirFlag is -state-dir. Unset, it is the machine's default
// (hostStateDir), decided after the flags are parsed and only by the
// commands that use a state directory: registering the flag, and -h,
// look at nothing. Set to "", it keeps the state in memory only.
type stateDirFlag struct {
	set bool
	dir string
}

func (f *stateDirFlag) String() string {
	if f == nil {
		return ""
	}
	return f.dir
}

func (f *stateDirFlag) Set(s string) error { f.set, f.dir = true, s; return nil }

// stateDirUsage describes the default, so that -h says it without
// deciding it.
const stateDirUsage = "default " + gokrazyStateDir + " where /gokrazy or a writable /perm is (gokrazy's writable partition), else none"

// settle makes the directory what def decides when none was given.
func (f *stateDirFlag) settle(def func() string) {
	if !f.set {
		f.set, f.dir = true, def()
	}
}

// gokrazyStateDir is the state directory on gokrazy's writable partition.
const gokrazyStateDir = "/perm/smsgate"

// hostStateDir is the default -state-dir of this machine: gokrazyStateDir
// on gokrazy or where /perm is writable, and none elsewhere: only the
// owner knows where a writable, persistent directory is on Pi OS or
// buildroot. It writes nothing: writability is asked of the kernel
// (access(2)), and the daemon finds a read-only disk when it takes its
// lock there, which it logs and survives (holdStateDir).
func hostStateDir() string { return stateDirUnder("/") }

// stateDirUnder is hostStateDir for a machine whose root is root.
func stateDirUnder(root string) string {
	if dirExists(filepath.Join(root, "gokrazy")) || mayWriteDir(filepath.Join(root, "perm")) {
		return filepath.Join(root, gokrazyStateDir)
	}
	return ""
}

func dirExists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

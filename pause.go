package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// A ZTE modem keeps one web session: smsgate logging in throws the owner
// out of the web UI. A pause stops smsgate from logging in for a while.
// While paused, a family whose adapter can hold its logins (loginHolder)
// still polls with the session it has, if the modem still honours it, so
// that 'resume' can be read; any other family is not asked anything.
const (
	maxPause = 2 * time.Hour
	minPause = time.Minute
	// pauseRequestFile is how `smsgate pause` and `smsgate resume` at a
	// shell tell the daemon: a file in the state directory (0700, the
	// daemon's), written atomically, read and removed at the next poll.
	pauseRequestFile = "pause-request"
	pauseRequestMax  = 128
)

// loginHolder is an adapter that can stop logging in until told again.
// release lifts that hold and gives back whatever hold was there before
// (a refused password stays refused).
type loginHolder interface {
	HoldLogins(reason string) (release func())
}

// pauseState is the daemon's side of a pause.
type pauseState struct {
	shown   time.Time // the until logged; zero when not paused
	release func()    // the adapter's hold, nil when none
}

// busyCount counts the times another user was found logged in to the
// modem's web UI, each said once.
type busyCount struct {
	n          int
	prev, this bool // busy at the previous step, at this one
}

func parsePauseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.ToLower(s))
	if err != nil {
		return 0, fmt.Errorf("pause %q: want a duration like 30m or 1h30m", s)
	}
	if d < minPause || d > maxPause {
		return 0, fmt.Errorf("pause %s: want 1m to 2h", s)
	}
	return d, nil
}

func parsePauseArgs(args []string) (Command, error) {
	if len(args) < 1 {
		return Command{}, errors.New("pause needs a DURATION: pause 30m")
	}
	// A duration out of range is answered by runPause, not taken for an
	// unknown command.
	return Command{Name: "pause", Arg: args[0]}, nil
}

func (a *Actions) runPause(_ context.Context, cmd Command) (string, func() error, error) {
	d, err := parsePauseDuration(cmd.Arg)
	if err == nil && a.own == nil {
		err = errors.New("pause: not available")
	}
	if err != nil {
		return err.Error(), nil, err
	}
	until := a.own.pauseUntil(a.own.now().Add(d), "command")
	return fmt.Sprintf("paused until %s: no modem logins; send 'resume' or run 'smsgate resume' to end it", until.Format("15:04")), nil, nil
}

func (a *Actions) runResume(context.Context, Command) (string, func() error, error) {
	if a.own == nil || !a.own.paused() {
		return "not paused", nil, nil
	}
	a.own.pauseUntil(time.Time{}, "command")
	return "resumed: logging in to the modem again", nil, nil
}

// paused says whether a pause is on now.
func (k *ownerKit) paused() bool {
	return k != nil && k.g.st.Owner != nil && k.now().Before(k.g.st.Owner.PausedUntil)
}

// pauseUntil starts (until in the future, at most maxPause away) or ends
// (zero) a pause, saves it, and returns its end.
func (k *ownerKit) pauseUntil(until time.Time, by string) time.Time {
	now := k.now()
	if until.After(now.Add(maxPause)) {
		until = now.Add(maxPause)
	}
	if !until.After(now) {
		until = time.Time{}
	}
	k.st().PausedUntil = until
	k.g.store.Save(k.g.st)
	k.g.log.Info("pause", "until", until.Format(time.RFC3339), "by", by)
	k.applyPause()
	return until
}

// pauseStep runs first in every poll: it takes a request from the shell,
// holds or releases the modem's logins, and says whether this poll must
// leave the modem alone.
func (k *ownerKit) pauseStep(ctx context.Context) (skip bool) {
	if k == nil {
		return false
	}
	k.busy.prev, k.busy.this = k.busy.this, false
	k.takeRequest()
	k.applyPause()
	if !k.paused() {
		return false
	}
	if k.pause.release != nil {
		return false // logins held: the session the modem still honours is used
	}
	k.g.led.Show(healthLogin)
	return true
}

// applyPause makes the adapter's hold and the log follow the pause.
func (k *ownerKit) applyPause() {
	var until time.Time
	if k.paused() {
		until = k.g.st.Owner.PausedUntil
	}
	if until.Equal(k.pause.shown) {
		return
	}
	switch {
	case until.IsZero():
		if k.pause.release != nil {
			k.pause.release()
			k.pause.release = nil
		}
		k.g.log.Warn("pause over: logging in to the modem again")
		if o := k.g.st.Owner; o != nil && !o.PausedUntil.IsZero() {
			o.PausedUntil = time.Time{}
			k.g.store.Save(k.g.st)
		}
	case k.pause.shown.IsZero():
		if h, ok := adapterOf(k.g.modem).(loginHolder); ok {
			k.pause.release = h.HoldLogins("paused by the owner until " + until.Format("15:04"))
		}
		k.g.log.Warn("paused: smsgate does not log in to the modem", "until", until.Format(time.RFC3339),
			"polls", map[bool]string{true: "with the session the modem still honours", false: "none"}[k.pause.release != nil])
	default:
		k.g.log.Warn("pause changed", "until", until.Format(time.RFC3339))
	}
	k.pause.shown = until
	k.g.led.Show(k.g.shown)
}

// loginHeld is told of every login the modem held: another user in the
// web UI is said once per spell and counted for status.
func (k *ownerKit) loginHeld(le *LoginError) {
	if k == nil || !le.Busy || k.paused() {
		return
	}
	k.busy.this = true
	if k.busy.prev {
		return
	}
	k.busy.n++
	k.g.log.Warn("modem: another user is logged in to its web UI; smsgate waits until they leave", "times", k.busy.n)
}

// statusNote is what status says of the pause and the web UI's users.
func (k *ownerKit) statusNote() string {
	if k == nil {
		return ""
	}
	var parts []string
	if k.paused() {
		parts = append(parts, "paused until "+k.g.st.Owner.PausedUntil.Format("15:04"))
	}
	if k.busy.n > 0 {
		parts = append(parts, fmt.Sprintf("web UI in use %dx", k.busy.n))
	}
	if len(parts) == 0 {
		return ""
	}
	return " | " + strings.Join(parts, ", ")
}

// pauseIndicator shows the login-held pattern while paused.
type pauseIndicator struct {
	inner indicator
	k     *ownerKit
}

func (p *pauseIndicator) Show(h health) {
	if p.inner == nil {
		return
	}
	if h != healthBusy && p.k.paused() {
		h = healthLogin
	}
	p.inner.Show(h)
}

// pauseRequest is what the shell asks: a pause until a time, or resume
// (zero).
type pauseRequest struct{ until time.Time }

func (r pauseRequest) String() string {
	if r.until.IsZero() {
		return "resume\n"
	}
	return "pause " + r.until.UTC().Format(time.RFC3339) + "\n"
}

func parsePauseRequest(b []byte) (pauseRequest, error) {
	s := strings.TrimSpace(string(b))
	if s == "resume" {
		return pauseRequest{}, nil
	}
	rest, ok := strings.CutPrefix(s, "pause ")
	if !ok {
		return pauseRequest{}, fmt.Errorf("pause request %q: want 'pause TIME' or 'resume'", s)
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(rest))
	if err != nil {
		return pauseRequest{}, fmt.Errorf("pause request: %w", err)
	}
	return pauseRequest{until: t}, nil
}

// takeRequest applies and removes a request the shell left; a bad one is
// logged and removed.
func (k *ownerKit) takeRequest() {
	dir := k.g.cfg.StateDir
	if dir == "" {
		return
	}
	path := filepath.Join(dir, pauseRequestFile)
	b, err := readBounded(path, pauseRequestMax)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	os.Remove(path)
	if err != nil {
		k.g.log.Warn("pause request unreadable; ignored", "path", path, "err", err)
		return
	}
	r, err := parsePauseRequest(b)
	if err != nil {
		k.g.log.Warn("pause request ignored", "err", err)
		return
	}
	k.pauseUntil(r.until, "shell")
}

// runPauseCmd is `smsgate pause DURATION` and `smsgate resume`: it leaves
// the request in the daemon's state directory and waits for the daemon to
// take it.
func runPauseCmd(cmd string, args []string, stdout, stderr io.Writer) error {
	synopsis := map[string]string{"pause": "pause [-state-dir DIR] DURATION", "resume": "resume [-state-dir DIR]"}[cmd]
	flags := newFlagSet(cmd, synopsis, stderr)
	var dir stateDirFlag
	flags.Var(&dir, "state-dir", "the daemon's -state-dir `directory`; "+stateDirUsage)
	wait := flags.Duration("wait", 20*time.Second, "how long to wait for the daemon to take the request")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	var req pauseRequest
	switch {
	case cmd == "pause" && flags.NArg() == 1:
		d, err := parsePauseDuration(flags.Arg(0))
		if err != nil {
			return badConfig(err)
		}
		req.until = time.Now().Add(d)
	case cmd == "resume" && flags.NArg() == 0:
	default:
		flags.Usage()
		return badConfig(fmt.Errorf("%s: unexpected arguments %q", cmd, flags.Args()))
	}
	dir.settle(hostStateDir)
	if dir.dir == "" {
		return badConfig(errors.New(cmd + " needs the daemon's -state-dir: that is where it looks for the request"))
	}
	if err := writeAtomic(dir.dir, pauseRequestFile, []byte(req.String())); err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	// Readable by the daemon's user when root wrote it: the directory
	// (0700, the daemon's) keeps everyone else out.
	if err := os.Chmod(filepath.Join(dir.dir, pauseRequestFile), 0o644); err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	deadline := time.Now().Add(*wait)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(filepath.Join(dir.dir, pauseRequestFile)); errors.Is(err, fs.ErrNotExist) {
			if req.until.IsZero() {
				fmt.Fprintln(stdout, "resumed: smsgate logs in to the modem again")
			} else {
				fmt.Fprintf(stdout, "paused until %s: smsgate does not log in to the modem\n", req.until.Format("15:04"))
			}
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("%s: no running smsgate took the request within %s (is it running with -state-dir %s?); it stays there for the next start", cmd, *wait, dir.dir)
}

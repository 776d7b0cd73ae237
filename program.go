package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// program is an owner's -cmd NAME=PROGRAM [ARG...]: the SMS NAME runs
// PROGRAM with exactly the configured arguments, through exec, never a
// shell. The SMS only selects NAME; none of its words reach argv
// (FuzzProgramArgv).
type program struct {
	name    string
	path    string
	args    []string
	timeout time.Duration
}

const (
	maxProgramOutput = 64 << 10 // what the log gets of one run's output
	programNameMax   = 20
)

// validProgramName: one word of letters, digits, '-', '_' and '.', not
// starting with punctuation. (No regexp: it costs the arm binary.)
func validProgramName(name string) bool {
	if name == "" || len(name) > programNameMax {
		return false
	}
	for i, r := range name {
		letter := r >= 'a' && r <= 'z' || r >= '0' && r <= '9'
		if !letter && (i == 0 || !strings.ContainsRune("-_.", r)) {
			return false
		}
	}
	return true
}

// parsePrograms reads the -cmd flags and checks each program now, so that a
// missing one is a configuration error at start, not a surprise on the day
// the owner needs it.
func parsePrograms(flags []string, timeout time.Duration) ([]*program, error) {
	if len(flags) > 0 && timeout <= 0 {
		return nil, fmt.Errorf("-cmd-timeout %s: want a positive duration", timeout)
	}
	var out []*program
	seen := map[string]bool{}
	for _, f := range flags {
		p, err := parseProgram(f)
		if err != nil {
			return nil, err
		}
		if seen[p.name] {
			return nil, fmt.Errorf("-cmd %q: %s is configured twice", f, p.name)
		}
		seen[p.name] = true
		p.timeout = timeout
		out = append(out, p)
	}
	return out, nil
}

// parseProgram reads "NAME=PROGRAM [ARG...]". Arguments are separated by
// white space; there is no quoting: an argument with a space belongs in a
// script.
func parseProgram(flag string) (*program, error) {
	name, command, ok := strings.Cut(flag, "=")
	if !ok {
		return nil, fmt.Errorf("-cmd %q: want NAME=PROGRAM [ARG...]", flag)
	}
	name = strings.ToLower(strings.TrimSpace(name))
	if !validProgramName(name) {
		return nil, fmt.Errorf("-cmd %q: NAME must be one word of up to %d letters, digits, '-', '_' or '.'", flag, programNameMax)
	}
	for _, s := range commandTable {
		for _, builtin := range []string{s.name, s.alias} {
			if first, _ := firstWord(builtin); first != "" && first == name {
				return nil, fmt.Errorf("-cmd %q: %s is a built-in command", flag, name)
			}
		}
	}
	words := strings.Fields(command)
	if len(words) == 0 {
		return nil, fmt.Errorf("-cmd %q: no PROGRAM", flag)
	}
	p := &program{name: name, path: words[0], args: words[1:]}
	if err := p.check(); err != nil {
		return nil, fmt.Errorf("-cmd %s: %w", name, err)
	}
	return p, nil
}

// check makes sure the program can be run: an absolute path (no $PATH
// lookup to fool), a regular file, executable.
func (p *program) check() error {
	if !filepath.IsAbs(p.path) {
		return fmt.Errorf("%q: PROGRAM must be an absolute path", p.path)
	}
	fi, err := os.Stat(p.path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", p.path)
	}
	if fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s: not executable", p.path)
	}
	return nil
}

func (p *program) spec() commandSpec {
	return commandSpec{
		name: p.name,
		does: "runs " + strings.Join(append([]string{p.path}, p.args...), " "),
		run:  (*Actions).runProgram,
	}
}

// programCommand is the exec.Cmd cmd selects: the configured path and
// arguments, nothing else, whatever else cmd carries. The environment is
// smsgate's without its secrets.
func (a *Actions) programCommand(cmd Command) (*exec.Cmd, *program) {
	var p *program
	for _, q := range a.programs {
		if q.name == cmd.Name {
			p = q
		}
	}
	if p == nil {
		return nil, nil
	}
	c := exec.Command(p.path, p.args...)
	c.Dir = "/"
	c.Env = programEnv()
	return c, p
}

// programEnv is smsgate's environment without its secrets (SMSGATE_*),
// for every program it runs; never nil, so that exec does not fill it in.
func programEnv() []string {
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SMSGATE_") {
			env = append(env, kv)
		}
	}
	return env
}

// programResult is what one run did.
type programResult struct {
	exitCode int    // -1 when killed by a signal
	signal   string // the signal that ended it, if any
	timedOut bool
	output   boundedBuffer
	elapsed  time.Duration
}

func (a *Actions) runProgram(ctx context.Context, cmd Command) (string, func() error, error) {
	c, p := a.programCommand(cmd)
	if c == nil {
		return "", nil, fmt.Errorf("no program for %q", cmd.Name)
	}
	a.logAction("cmd", p.name, a.dryRun)
	if a.dryRun {
		return p.name + ": not run (dry run)", nil, nil
	}
	r, err := execute(ctx, c, p.timeout)
	if err != nil {
		a.log.Error("program did not start", "cmd", p.name, "path", p.path, "err", err)
		return p.name + ": did not start: " + shortErr(err), nil, fmt.Errorf("%s: %w", p.name, err)
	}
	out := sanitizeText(string(r.output.Bytes())) // safe for the log and a reply
	a.log.Info("program", "cmd", p.name, "path", p.path, "exit", r.exitCode, "signal", r.signal,
		"timed_out", r.timedOut, "elapsed", r.elapsed.Round(time.Millisecond), "output", out,
		"output_dropped", r.output.dropped)
	status := fmt.Sprintf("exit %d", r.exitCode)
	switch {
	case r.timedOut:
		status = fmt.Sprintf("killed after %s (timeout)", shortSeconds(p.timeout))
	case ctx.Err() != nil:
		status = "killed: smsgate is stopping or its poll ran out of time"
	case r.signal != "":
		status = "killed by " + r.signal
	}
	reply := p.name + ": " + status
	if line := a.programReplyText(out); line != "" {
		reply += ": " + line
	}
	if status != "exit 0" {
		err = errors.New(p.name + ": " + status)
	}
	return a.fitReply(reply), nil, err
}

func shortSeconds(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", int(d/time.Second))
	}
	return d.String()
}

// firstLine is the first line of out that says something.
func firstLine(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return ""
}

// boundedBuffer keeps the first maxProgramOutput bytes written to it and
// counts the rest: a chatty program costs the log 64 KiB, not the memory.
type boundedBuffer struct {
	b       []byte
	dropped int64
}

func (w *boundedBuffer) Write(p []byte) (int, error) {
	room := maxProgramOutput - len(w.b)
	if room > len(p) {
		room = len(p)
	}
	w.b = append(w.b, p[:room]...)
	w.dropped += int64(len(p) - room)
	return len(p), nil
}

func (w *boundedBuffer) Bytes() []byte { return w.b }

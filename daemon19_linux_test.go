package main

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	daemonBinOnce sync.Once
	daemonBin     string
	daemonBinErr  error
)

// builtDaemon builds the command once for the tests that run it as a
// child process (and kill it).
func builtDaemon(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the command")
	}
	daemonBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "smsgate-bin-")
		if err != nil {
			daemonBinErr = err
			return
		}
		daemonBin = filepath.Join(dir, "smsgate")
		if out, err := exec.Command("go", "build", "-tags", "nethttpomithttp2", "-o", daemonBin, ".").CombinedOutput(); err != nil {
			daemonBinErr = errors.New(string(out))
		}
	})
	if daemonBinErr != nil {
		t.Fatalf("go build: %v", daemonBinErr)
	}
	return daemonBin
}

// daemon is the command running as a child, its log collected.
type daemon struct {
	cmd    *exec.Cmd
	out    *lockedBuffer
	stderr *lockedBuffer
	done   chan struct{}
}

// startDaemon runs the daemon against url with stateDir, in dry run, with
// no watchdog, polling every 100 ms.
func startDaemon(t *testing.T, url, stateDir string, extra ...string) *daemon {
	t.Helper()
	args := append([]string{"run", "-modem", url, "-allow", owner, "-state-dir", stateDir, "-watchdog=",
		"-poll", "100ms", "-timeout", "2s", "-log-format", "json", "-alert="}, extra...)
	if !slices.Contains(extra, "-no-reboot") {
		args = append(args, "-dry-run")
	}
	cmd := exec.Command(builtDaemon(t), args...)
	cmd.Env = append(os.Environ(), "SMSGATE_PASSWORD=pw", "SMSGATE_PIN=", "SMSGATE_TOTP=")
	d := &daemon{cmd: cmd, out: &lockedBuffer{}, stderr: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = d.out, d.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(d.done) }()
	t.Cleanup(func() { d.kill() })
	return d
}

func (d *daemon) kill() {
	select {
	case <-d.done:
	default:
		d.cmd.Process.Signal(syscall.SIGKILL)
		<-d.done
	}
}

func (d *daemon) exited(within time.Duration) bool {
	select {
	case <-d.done:
		return true
	case <-time.After(within):
		return false
	}
}

// waitLog waits until the daemon's log holds s.
func (d *daemon) waitLog(t *testing.T, s string, within time.Duration) {
	t.Helper()
	end := time.Now().Add(within)
	for !strings.Contains(d.out.String(), s) {
		if time.Now().After(end) {
			t.Fatalf("no %q in the log within %s:\n%s\nstderr: %s", s, within, d.out.String(), d.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSecondDaemonOnOneStateDirExits: two daemons on one -state-dir would
// run commands twice. The second says which process holds the directory
// and exits 125 (not restarted); the one-shots work beside the first.
func TestSecondDaemonOnOneStateDirExits(t *testing.T) {
	sim, _, _ := startSim(t, "mf920v", "pw", "pw")
	dir := t.TempDir()
	first := startDaemon(t, sim.URL, dir)
	first.waitLog(t, `"msg":"state"`, 10*time.Second)
	second := startDaemon(t, sim.URL, dir)
	if !second.exited(10 * time.Second) {
		t.Fatalf("a second daemon on the same -state-dir runs:\n%s", second.out.String())
	}
	if code := second.cmd.ProcessState.ExitCode(); code != exitStatusConfig {
		t.Errorf("second daemon exit status %d, want %d", code, exitStatusConfig)
	}
	if pid := strconv.Itoa(first.cmd.Process.Pid); !strings.Contains(second.stderr.String(), "pid "+pid) {
		t.Errorf("second daemon does not name the holder (pid %s): %q", pid, second.stderr.String())
	}
	for _, args := range [][]string{{"status"}, {"list"}, {"send", owner, "hi"}} {
		cmd := exec.Command(builtDaemon(t), append(args[:1:1], append([]string{"-modem", sim.URL}, args[1:]...)...)...)
		cmd.Env = append(os.Environ(), "SMSGATE_PASSWORD=pw")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			t.Errorf("%v beside the daemon: %v %s", args, err, stderr.String())
		}
	}
	// SIGKILL leaves no stale lock: the kernel releases it.
	first.kill()
	third := startDaemon(t, sim.URL, dir)
	third.waitLog(t, `"msg":"state"`, 10*time.Second)
	if third.exited(300 * time.Millisecond) {
		t.Fatalf("a daemon after a SIGKILLed one did not run: %s", third.stderr.String())
	}
}

// TestSIGKILLAtRandomMoments kills the real daemon (SIGKILL, from outside)
// at random moments while owner commands arrive on a slow simulated ZTE
// modem, and starts it again on the same -state-dir, many times. Every
// command runs at most once (its -cmd program appends its name to a file,
// run for real under -no-reboot); a command that never ran was reported to
// the owner by SMS (not run, or may or may not have run); no report says
// "not run" of a command that ran.
func TestSIGKILLAtRandomMoments(t *testing.T) {
	builtDaemon(t)
	sim, err := NewSim("mf920v", "pw")
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	sim.SetFaults(func(f *SimFaults) { f.Slow = 25 * time.Millisecond })
	dir, work := t.TempDir(), t.TempDir()
	runs := filepath.Join(work, "runs")
	script := filepath.Join(work, "rec.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$1\" >> "+runs+"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	const rounds, perRound = 8, 3
	var extra []string
	for i := range rounds * perRound {
		extra = append(extra, "-cmd", fmt.Sprintf("c%d=%s c%d", i, script, i))
	}
	extra = append(extra, "-no-reboot", "-rate", "1000")
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	t.Logf("seed %d", seed)
	for r := range rounds {
		d := startDaemon(t, sim.URL, dir, extra...)
		for i := range perRound {
			sim.Deliver(owner, fmt.Sprintf("c%d", r*perRound+i), time.Now())
		}
		time.Sleep(time.Duration(rng.IntN(900)) * time.Millisecond)
		d.kill()
	}
	// A last run, left to settle.
	d := startDaemon(t, sim.URL, dir, extra...)
	end := time.Now().Add(90 * time.Second)
	for settled := false; !settled; {
		st, _ := os.ReadFile(filepath.Join(dir, stateFile))
		settled = len(sim.Inbox()) == 0 && !strings.Contains(string(st), `"intents"`) && !strings.Contains(string(st), `"reports"`)
		if time.Now().After(end) {
			t.Fatalf("inbox not emptied: %v\n%s", sim.Inbox(), d.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // real time (a child daemon): a window for a late duplicate run to show
	d.cmd.Process.Signal(syscall.SIGTERM)
	d.exited(10 * time.Second)

	b, _ := os.ReadFile(runs)
	ran := map[string]int{}
	for _, l := range strings.Fields(string(b)) {
		ran[l]++
	}
	var sent []string
	for _, s := range sim.Record().Sent {
		sent = append(sent, s.Text)
	}
	lost, reported, unknown := 0, 0, 0
	for i := range rounds * perRound {
		name := fmt.Sprintf("c%d", i)
		var notRun, maybe bool
		for _, s := range sent {
			if strings.Contains(s, "'"+name+"'") {
				notRun = notRun || strings.Contains(s, "but not run")
				maybe = maybe || strings.Contains(s, "may or may not have run")
			}
		}
		switch {
		case ran[name] > 1:
			t.Errorf("%s ran %d times", name, ran[name])
		case ran[name] == 1 && notRun:
			t.Errorf("%s ran, and was reported as not run", name)
		case ran[name] == 0 && !notRun && !maybe:
			lost++
			t.Errorf("%s never ran and was never reported", name)
		case notRun:
			reported++
		case maybe:
			unknown++
		}
	}
	t.Logf("%d commands, %d kills: %d ran, %d reported not run, %d reported unknown, %d lost",
		rounds*perRound, rounds, len(ran), reported, unknown, lost)
}

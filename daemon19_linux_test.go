package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
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
		"-poll", "100ms", "-timeout", "2s", "-log-format", "json", "-dry-run", "-alert="}, extra...)
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

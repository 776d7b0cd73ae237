package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// script writes an owner's program: the fixed PROGRAM of a -cmd, never
// SMS text.
func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "prog")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestProgramConfig(t *testing.T) {
	ok := script(t, "exit 0")
	notExec := filepath.Join(t.TempDir(), "plain")
	os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644)
	for _, tt := range []struct {
		flags []string
		want  string // "" for accepted
	}{
		{[]string{"vpn=" + ok + " restart wg0"}, ""},
		{[]string{"VPN=" + ok, "health=" + ok}, ""},
		{[]string{"vpn=/nonexistent/restart-vpn"}, "no such file"},
		{[]string{"vpn=" + notExec}, "not executable"},
		{[]string{"vpn=" + filepath.Dir(ok)}, "not a regular file"},
		{[]string{"vpn=prog"}, "absolute path"},
		{[]string{"vpn="}, "no PROGRAM"},
		{[]string{"vpn " + ok}, "NAME=PROGRAM"},
		{[]string{"status=" + ok}, "built-in"},
		{[]string{"modem=" + ok}, "built-in"},
		{[]string{"IR=" + ok}, "built-in"},
		{[]string{"help=" + ok}, "built-in"},
		{[]string{"vpn=" + ok, "vpn=" + ok}, "twice"},
		{[]string{"two words=" + ok}, "one word"},
		{[]string{"$(x)=" + ok}, "one word"},
	} {
		_, err := parsePrograms(tt.flags, 30*time.Second)
		if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("parsePrograms(%q) = %v, want %q", tt.flags, err, tt.want)
		}
	}
	if _, err := parsePrograms([]string{"vpn=" + ok}, 0); err == nil {
		t.Error("-cmd-timeout 0 accepted")
	}
}

// programActions is an Actions with the given -cmd flags, logging to logs.
func programActions(t *testing.T, timeout time.Duration, flags ...string) (*Actions, *bytes.Buffer) {
	t.Helper()
	ps, err := parsePrograms(flags, timeout)
	if err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	return &Actions{programs: ps, log: slog.New(slog.NewJSONHandler(logs, nil))}, logs
}

func runText(t *testing.T, a *Actions, text string) (string, error) {
	t.Helper()
	cmd, ok := a.parse(text)
	if !ok {
		t.Fatalf("%q does not parse", text)
	}
	reply, after, err := a.Run(context.Background(), cmd)
	if after != nil {
		t.Fatalf("%q: a program runs before the reply, not after", text)
	}
	if smsParts(reply) != 1 {
		t.Errorf("reply %q costs %d SMS", reply, smsParts(reply))
	}
	return reply, err
}

func TestProgramExitAndOutput(t *testing.T) {
	t.Setenv("SMSGATE_PIN", "4711")
	t.Setenv("SMSGATE_TOTP", "JBSWY3DPEHPK3PXP")
	args := script(t, `echo "$#:$*"`)
	a, logs := programActions(t, 5*time.Second,
		"vpn="+script(t, "echo; echo '  wg0 restarted  '; echo second line"),
		"fail="+script(t, "echo 'no route to host' >&2; exit 3"),
		"args="+args+" restart wg-quick@wg0",
		"env="+script(t, `env | grep -c SMSGATE_`),
		"quiet="+script(t, "exit 0"),
		"esc="+script(t, `printf '\033[31mred\033]0;title\007 \342\200\256x\n'`),
		"where="+script(t, `echo "$(pwd) $(wc -c)"`),
	)
	for _, tt := range []struct {
		text, reply string
		fails       bool
	}{
		{"VPN please -- Bob", "vpn: exit 0: wg0 restarted", false},
		{"fail", "fail: exit 3: no route to host", true},
		{"args ; rm -rf / $(reboot) `id` | sh", "args: exit 0: 2:restart wg-quick@wg0", false},
		{"env", "env: exit 1: 0", true},
		{"quiet", "quiet: exit 0", false},
		{"esc", "esc: exit 0: [31mred]0;title x", false},
		{"where", "where: exit 0: / 0", false},
	} {
		reply, err := runText(t, a, tt.text)
		if reply != tt.reply || (err != nil) != tt.fails {
			t.Errorf("%q: reply %q, err %v; want %q, failure %v", tt.text, reply, err, tt.reply, tt.fails)
		}
	}
	if strings.Contains(logs.String(), `\u001b`) || strings.Contains(logs.String(), "\u202e") {
		t.Error("control characters reached the log")
	}
	if !strings.Contains(logs.String(), `"output":"\n  wg0 restarted  \nsecond line\n"`) {
		t.Errorf("whole output not logged: %s", logs)
	}
}

// TestProgramTimeoutKillsGroup: a program that overruns -cmd-timeout is
// killed with everything it started, and the reply says so.
func TestProgramTimeoutKillsGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child")
	a, logs := programActions(t, 300*time.Millisecond,
		"hang="+script(t, "sleep 300 & echo $! > "+pidFile+"; echo started; wait"))
	start := time.Now()
	reply, err := runText(t, a, "hang")
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %s", took)
	}
	if err == nil || reply != "hang: killed after 300ms (timeout): started" {
		t.Errorf("reply %q, err %v", reply, err)
	}
	assertGone(t, pidFile)
	if !strings.Contains(logs.String(), `"timed_out":true`) {
		t.Errorf("log: %s", logs)
	}
}

// TestProgramLeftoversKilled: what a program leaves running is killed when
// it exits, and its reply does not wait for it.
func TestProgramLeftoversKilled(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child")
	a, _ := programActions(t, 30*time.Second,
		"bg="+script(t, "sleep 300 & echo $! > "+pidFile+"; echo started"))
	start := time.Now()
	reply, err := runText(t, a, "bg")
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %s: waited for the leftover child", took)
	}
	if err != nil || reply != "bg: exit 0: started" {
		t.Errorf("reply %q, err %v", reply, err)
	}
	assertGone(t, pidFile)
}

// assertGone checks that the process whose pid is in file has ended (a
// zombie waiting for a reaper counts as ended).
func assertGone(t *testing.T, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pid := strings.TrimSpace(string(b))
	deadline := time.Now().Add(5 * time.Second)
	for {
		stat, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil {
			return
		}
		if f := strings.Fields(string(stat)); len(f) > 2 && f[2] == "Z" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %s still running: %s", pid, stat)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestProgramChatty: 10 MB of output costs the log 64 KiB and the reply one
// SMS.
func TestProgramChatty(t *testing.T) {
	a, logs := programActions(t, 30*time.Second,
		"chatty="+script(t, "head -c 10000000 /dev/zero | tr '\\000' x; echo; echo end"))
	reply, err := runText(t, a, "chatty")
	if err != nil || !strings.HasPrefix(reply, "chatty: exit 0: xxxx") {
		t.Errorf("reply %q, err %v", reply, err)
	}
	if n := logs.Len(); n > maxProgramOutput+1000 {
		t.Errorf("log line of %d bytes", n)
	}
	if want := `"output_dropped":` + strconv.Itoa(10000000+len("\nend\n")-maxProgramOutput); !strings.Contains(logs.String(), want) {
		t.Errorf("dropped output not counted (want %s): %s", want, logs.String()[logs.Len()-200:])
	}
}

// FuzzProgramArgv: whatever the SMS says, the argv of the program it
// selects is exactly the configured one.
func FuzzProgramArgv(f *testing.F) {
	for _, s := range []string{"vpn", "VPN ; rm -rf /", "vpn $(reboot) `id` | sh", "vpn\n/bin/sh -c reboot", "vpn restart wg1", "1234 vpn", "health"} {
		f.Add(s)
	}
	ps := []*program{
		{name: "vpn", path: "/usr/bin/systemctl", args: []string{"restart", "wg-quick@wg0"}},
		{name: "health", path: "/usr/local/bin/health"},
	}
	a := &Actions{programs: ps}
	f.Fuzz(func(t *testing.T, text string) {
		cmd, ok := a.parse(text)
		if !ok {
			return
		}
		c, p := a.programCommand(cmd)
		if c == nil {
			if builtinCommand(cmd.Name) == nil {
				t.Fatalf("%q parsed as %+v: neither built in nor a program", text, cmd)
			}
			return
		}
		want := append([]string{p.path}, p.args...)
		if c.Path != p.path || !slices.Equal(c.Args, want) {
			t.Fatalf("%q: argv %q, path %q; want %q", text, c.Args, c.Path, want)
		}
	})
}

// TestProgramThroughGateway: the owner's SMS runs the program once, the
// reply carries its status, help lists it, and a stranger's does nothing.
func TestProgramThroughGateway(t *testing.T) {
	count := filepath.Join(t.TempDir(), "runs")
	ps, err := parsePrograms([]string{"vpn=" + script(t, "echo x >> "+count+"; echo tunnel up")}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, "mf920v", nil)
	h.gw.actions.programs = ps
	stranger := h.send("+21699999999", "vpn")
	id := h.send(owner, "vpn")
	help := h.send(owner, "help")
	other := h.send(owner, "vpnx")
	h.step()
	if h.decision(id) != "executed" || h.decision(help) != "executed" || h.decision(other) != "rejected" || h.decision(stranger) != "ignored" {
		t.Fatal("not executed once")
	}
	if b, _ := os.ReadFile(count); string(b) != "x\n" {
		t.Errorf("ran %q", b)
	}
	r := h.replies()
	if len(r) != 3 || r[0] != owner+": vpn: exit 0: tunnel up" || !strings.HasSuffix(r[1], "| help | vpn") || r[2] != owner+": "+unknownCommandReply {
		t.Errorf("replies %q", r)
	}
}

// TestProgramDryRun: -dry-run runs no program.
func TestProgramDryRun(t *testing.T) {
	ran := filepath.Join(t.TempDir(), "ran")
	a, _ := programActions(t, 5*time.Second, "vpn="+script(t, "touch "+ran))
	a.dryRun = true
	if reply, err := runText(t, a, "vpn"); err != nil || reply != "vpn: not run (dry run)" {
		t.Errorf("reply %q, err %v", reply, err)
	}
	if _, err := os.Stat(ran); err == nil {
		t.Error("the program ran in a dry run")
	}
}

// TestProgramCancelled: when smsgate stops (or the poll's deadline
// passes) the program is killed at once, not at -cmd-timeout.
func TestProgramCancelled(t *testing.T) {
	a, _ := programActions(t, time.Minute, "hang="+script(t, "echo started; sleep 300"))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	cmd, _ := a.parse("hang")
	start := time.Now()
	reply, _, err := a.Run(ctx, cmd)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %s", took)
	}
	if err == nil || !strings.HasPrefix(reply, "hang: killed: smsgate is stopping") {
		t.Errorf("reply %q, err %v", reply, err)
	}
}

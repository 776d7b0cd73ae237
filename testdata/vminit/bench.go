package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The scenarios of `make bench` (BENCHMARKS.md): smsgate's resident memory
// on a real arm64 kernel, idle at the default poll ("rss-idle") and in a
// soak ("soak"): 500 messages waiting at start, then one SMS a second,
// commands and strangers mixed, for 5 minutes at -poll 200ms. /smsgate is
// the release build (no simulator); /smsgate-sim serves the modem.

// soakSMS is the i-th message of the soak: one in four from the owner
// (commands, a wrong one among them), the rest from strangers, of varying
// length.
func soakSMS(i int) string {
	cmds := []string{"ping", "status", "help", "no such command"}
	if i%4 == 0 {
		return owner + "=" + cmds[(i/4)%len(cmds)]
	}
	return fmt.Sprintf("+4477009%05d=offer %d: %s", i%97, i, strings.Repeat("x", i%150))
}

// memStatus reads VmHWM and VmRSS of pid, in kB.
func memStatus(pid int) (hwm, rss int, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmHWM:":
			hwm, _ = strconv.Atoi(f[1])
		case "VmRSS:":
			rss, _ = strconv.Atoi(f[1])
		}
	}
	return hwm, rss, nil
}

func benchRSS(scenario string) error {
	backlog, poll, trickle := 0, "5s", 0
	run := 90 * time.Second
	if scenario == "soak" {
		backlog, poll, trickle = 500, "200ms", 300
		run = time.Duration(trickle) * time.Second
	}
	args := []string{"sim", "-listen", "127.0.0.1:8080", "-password", "pw", "-capacity", "1000", "-deliver-stdin"}
	for i := 0; i < backlog; i++ {
		args = append(args, "-deliver", soakSMS(i))
	}
	simCmd := exec.Command("/smsgate-sim", args...)
	feed, err := simCmd.StdinPipe()
	if err != nil {
		return err
	}
	sim, err := startCmd("sim", simCmd)
	if err != nil {
		return err
	}
	if err := sim.waitFor("serving on", 60*time.Second); err != nil {
		return err
	}
	gw, err := startGateway("-poll", poll, "-rate", "1000")
	if err != nil {
		return err
	}
	if err := gw.waitFor("state=ok", 60*time.Second); err != nil {
		return err
	}
	pid := gw.cmd.Process.Pid
	if backlog > 0 {
		if err := waitQuiet(gw, 5*time.Second, 6*time.Minute); err != nil {
			return fmt.Errorf("backlog of %d: %v", backlog, err)
		}
		hwm, rss, _ := memStatus(pid)
		say("rss backlog-done hwm_kb=%d rss_kb=%d", hwm, rss)
	}
	start := time.Now()
	next := 0
	for t := 1; time.Since(start) < run; t++ {
		time.Sleep(time.Until(start.Add(time.Duration(t) * time.Second)))
		if next < trickle {
			fmt.Fprintln(feed, soakSMS(backlog+next))
			next++
		}
		if t%10 == 0 {
			hwm, rss, err := memStatus(pid)
			if err != nil {
				return fmt.Errorf("smsgate gone: %v", err)
			}
			say("rss t=%ds hwm_kb=%d rss_kb=%d", t, hwm, rss)
		}
	}
	hwm, rss, err := memStatus(pid)
	if err != nil {
		return fmt.Errorf("smsgate gone: %v", err)
	}
	say("rss final delivered=%d hwm_kb=%d rss_kb=%d", next, hwm, rss)
	gw.cmd.Process.Signal(syscall.SIGTERM)
	<-gw.done
	sim.cmd.Process.Signal(syscall.SIGTERM)
	<-sim.done
	say("%s done", scenario)
	return nil
}

// waitQuiet returns once gw has logged no SMS decision for quiet: the
// backlog is decided, and smsgate polls idle.
func waitQuiet(gw *proc, quiet, limit time.Duration) error {
	deadline := time.After(limit)
	calm := time.After(quiet)
	for {
		select {
		case l := <-gw.lines:
			if strings.Contains(l, "msg=sms") {
				calm = time.After(quiet)
			}
		case <-calm:
			return nil
		case err := <-gw.done:
			return fmt.Errorf("smsgate exited: %v", err)
		case <-deadline:
			return fmt.Errorf("still deciding after %s", limit)
		}
	}
}

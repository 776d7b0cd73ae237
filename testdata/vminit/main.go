// Command vminit is PID 1 of the VM test's arm64 guest. It mounts what
// smsgate needs, brings up loopback, runs the simulator and smsgate, plays
// the scenario named on the kernel command line (smsgate.scenario=NAME),
// and prints "VMINIT:" lines the host test reads from the serial console.
package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const (
	owner   = "+15550001111"
	modem   = "http://127.0.0.1:8080"
	timeout = 5 * time.Second // the watchdog timeout the scenarios use
)

func say(format string, args ...any) {
	fmt.Printf("VMINIT: "+format+"\n", args...)
}

func main() {
	defer powerOff()
	for _, m := range []struct{ src, dst, fs string }{
		{"proc", "/proc", "proc"}, {"sysfs", "/sys", "sysfs"}, {"devtmpfs", "/dev", "devtmpfs"},
		{"debugfs", "/sys/kernel/debug", "debugfs"}, {"tmpfs", "/tmp", "tmpfs"},
	} {
		os.MkdirAll(m.dst, 0o755)
		if err := unix.Mount(m.src, m.dst, m.fs, 0, ""); err != nil {
			say("mount %s: %v", m.dst, err)
		}
	}
	if err := loopbackUp(); err != nil {
		say("FAIL loopback: %v", err)
		return
	}
	cmdline, _ := os.ReadFile("/proc/cmdline")
	scenario := ""
	for _, f := range strings.Fields(string(cmdline)) {
		if v, ok := strings.CutPrefix(f, "smsgate.scenario="); ok {
			scenario = v
		}
	}
	say("scenario %s", scenario)
	if err := run(scenario); err != nil {
		say("FAIL %v", err)
	}
}

func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

func powerOff() {
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
}

// proc is a started child whose output is copied to the console; lines
// matching a wanted marker are signalled.
type proc struct {
	cmd   *exec.Cmd
	lines chan string
	done  chan error
}

func start(name string, args ...string) (*proc, error) {
	return startCmd(name, exec.Command("/smsgate", args...))
}

// startCmd starts cmd as start does, for a caller that sets it up further.
func startCmd(name string, cmd *exec.Cmd) (*proc, error) {
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, lines: make(chan string, 1000), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			fmt.Printf("%s: %s\n", name, sc.Text())
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		p.done <- cmd.Wait()
	}()
	return p, nil
}

// waitFor reads p's output until a line contains marker.
func (p *proc) waitFor(marker string, limit time.Duration) error {
	deadline := time.After(limit)
	for {
		select {
		case l := <-p.lines:
			if strings.Contains(l, marker) {
				return nil
			}
		case err := <-p.done:
			return fmt.Errorf("exited (%v) before %q", err, marker)
		case <-deadline:
			return fmt.Errorf("no %q within %s", marker, limit)
		}
	}
}

func startSim(deliver ...string) (*proc, error) {
	args := []string{"sim", "-listen", "127.0.0.1:8080", "-password", "pw"}
	for _, d := range deliver {
		args = append(args, "-deliver", owner+"="+d)
	}
	p, err := start("sim", args...)
	if err != nil {
		return nil, err
	}
	return p, p.waitFor("serving on", 60*time.Second)
}

func startGateway(extra ...string) (*proc, error) {
	args := append([]string{"run", "-modem", modem, "-password", "pw", "-allow", owner, "-poll", "1s",
		"-watchdog-timeout", timeout.String(), "-reboot-mode", "syscall", "-reboot-interval", "1s"}, extra...)
	return start("smsgate", args...)
}

// startBoth starts the simulator (with deliver in its inbox) and then
// smsgate with extra flags.
func startBoth(deliver []string, extra ...string) (sim, gw *proc, err error) {
	if sim, err = startSim(deliver...); err != nil {
		return nil, nil, err
	}
	gw, err = startGateway(extra...)
	return sim, gw, err
}

func run(scenario string) error {
	switch scenario {
	case "reboot":
		_, gw, err := startBoth([]string{"reboot"})
		if err != nil {
			return err
		}
		err = <-gw.done
		return fmt.Errorf("smsgate returned (%v) instead of rebooting", err)

	case "reboot-init":
		// Like gokrazy's or busybox's init: SIGTERM to PID 1 means reboot.
		term := make(chan os.Signal, 1)
		signal.Notify(term, syscall.SIGTERM)
		_, gw, err := startBoth([]string{"reboot"}, "-reboot-mode", "auto")
		if err != nil {
			return err
		}
		select {
		case <-term:
		case err := <-gw.done:
			return fmt.Errorf("smsgate returned (%v) without asking init", err)
		}
		say("init got SIGTERM: stopping services, then rebooting")
		gw.cmd.Process.Signal(syscall.SIGTERM)
		<-gw.done
		unix.Sync()
		return unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART)

	case "reboot-init-ignored":
		// An init that never reboots: smsgate must do it itself. (Without
		// this, the Go runtime would end PID 1 on SIGTERM.)
		signal.Ignore(syscall.SIGTERM)
		_, gw, err := startBoth([]string{"reboot"}, "-reboot-mode", "init", "-reboot-grace", "3s")
		if err != nil {
			return err
		}
		err = <-gw.done
		return fmt.Errorf("smsgate returned (%v) instead of rebooting", err)

	case "stall", "healthy", "sigterm":
		_, gw, err := startBoth(nil)
		if err != nil {
			return err
		}
		if err := gw.waitFor("hardware watchdog armed", 60*time.Second); err != nil {
			return err
		}
		time.Sleep(2 * time.Second)
		switch scenario {
		case "stall":
			gw.cmd.Process.Signal(syscall.SIGSTOP)
			say("stopped smsgate")
			time.Sleep(4 * time.Minute)
			return fmt.Errorf("still running 4 minutes after smsgate stalled")
		case "healthy":
			time.Sleep(3*timeout + time.Second)
			if err := gw.cmd.Process.Signal(syscall.Signal(0)); err != nil {
				return fmt.Errorf("smsgate gone: %v", err)
			}
			say("healthy for three watchdog periods")
			return nil
		}
		gw.cmd.Process.Signal(syscall.SIGTERM)
		if err := <-gw.done; err != nil {
			return fmt.Errorf("smsgate exited after SIGTERM: %v", err)
		}
		say("smsgate exited cleanly")
		time.Sleep(3 * timeout)
		say("alive three watchdog periods after the clean stop")
		return nil

	case "heal":
		// Mobile data is down at boot: healing reconnects it, and says so.
		sim, err := start("sim", "sim", "-listen", "127.0.0.1:8080", "-password", "pw", "-data-down")
		if err != nil {
			return err
		}
		if err := sim.waitFor("serving on", 60*time.Second); err != nil {
			return err
		}
		gw, err := startGateway("-watchdog", "", "-heal-after", "5s")
		if err != nil {
			return err
		}
		if err := sim.waitFor("fixed by reconnect", 2*time.Minute); err != nil {
			return err
		}
		gw.cmd.Process.Signal(syscall.SIGTERM)
		<-gw.done
		say("healing reconnected the link")
		return nil

	case "rss-idle", "soak":
		return benchRSS(scenario)

	case "led":
		sim, gw, err := startBoth(nil, "-watchdog", "", "-led", "gpiochip0:0")
		if err != nil {
			return err
		}
		if err := gw.waitFor(`state=ok`, 60*time.Second); err != nil {
			return err
		}
		time.Sleep(500 * time.Millisecond)
		say("gpio ok: %s", ledLine())
		// The modem goes away: the LED blinks fast.
		sim.cmd.Process.Kill()
		if err := gw.waitFor("state=modem-unreachable", 60*time.Second); err != nil {
			return err
		}
		hi, lo := 0, 0
		for i := 0; i < 60; i++ {
			if strings.Contains(ledLine(), " hi") {
				hi++
			} else {
				lo++
			}
			time.Sleep(17 * time.Millisecond)
		}
		say("gpio unreachable samples hi=%d lo=%d", hi, lo)
		gw.cmd.Process.Signal(syscall.SIGTERM)
		<-gw.done
		say("gpio after exit: %s", ledLine())
		return nil
	}
	return fmt.Errorf("unknown scenario %q", scenario)
}

// ledLine is the kernel's own view of line 0 of the first GPIO chip.
func ledLine() string {
	b, err := os.ReadFile("/sys/kernel/debug/gpio")
	if err != nil {
		return "debugfs: " + err.Error()
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "gpio-") && (strings.Contains(l, "smsgate") || strings.Contains(l, " out ")) {
			return strings.Join(strings.Fields(l), " ")
		}
	}
	return "line 0 not requested"
}

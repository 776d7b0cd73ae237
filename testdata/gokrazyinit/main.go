// Command gokrazyinit is PID 1 of the VM test's gokrazy scenario. It is the
// init program gokrazy's packer generates (gokrazy.Boot, one
// gokrazy.Service per binary under /user, gokrazy.SuperviseServices), so
// the watchdog, the supervision, the exit status 125 rule and the reboot on
// SIGTERM are gokrazy's own code, from the module pinned in go.mod. Added
// for the test: an observer that prints the services' output, which
// gokrazy sends to remote syslog (/perm/remote_syslog/target), on the
// console, and plays the scenario. Its lines start with "GOKRAZYINIT:".
package main

import (
	"bufio"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/gokrazy/gokrazy"
	"golang.org/x/sys/unix"
)

const (
	owner = "+15550001111"
	// The daemon as a gokrazy instance would run it: flags only, the
	// password in the environment, -reboot-mode left at auto.
	daemon = "/user/smsgate"
	// The same binary with a flag mistake: gokrazy must run it once.
	misconfigured = "/user/smsgate-misconfigured"
	// The same binary as a one-shot status check, started before the
	// modem is there: it fails at run time (exit 1), and gokrazy must start
	// it again until it succeeds (exit 0), then leave it stopped.
	status = "/user/smsgate-status"
)

var daemonFlags = []string{"-modem", "http://127.0.0.1:8080", "-allow", owner, "-poll", "1s",
	"-timeout", "1s", "-reboot-grace", "5s", "-reboot-interval", "1s"}

func say(format string, args ...any) {
	fmt.Printf("GOKRAZYINIT: "+format+"\n", args...)
}

func main() {
	log.SetFlags(log.LstdFlags | log.Lshortfile)
	// On a gokrazy install the kernel mounts devtmpfs on /dev before init
	// runs (root is on the SD card, CONFIG_DEVTMPFS_MOUNT). Booted from an
	// initramfs, as here, it does not, and Boot opens /dev/watchdog in a
	// goroutine started before it mounts /dev itself: under load the open
	// came first and gokrazy ran without the watchdog. Mounting it here
	// gives Boot the /dev a real gokrazy has (Boot takes EBUSY as "already
	// mounted").
	if err := unix.Mount("devtmpfs", "/dev", "devtmpfs", 0, ""); err != nil && err != unix.EBUSY {
		log.Fatalf("mount /dev: %v", err)
	}
	for i := 0; i < 50; i++ {
		if _, err := os.Stat("/dev/watchdog"); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := gokrazy.Boot("vmtest"); err != nil {
		log.Fatal(err)
	}
	// Boot has brought up loopback; the services' syslog writers are made
	// with the services, so the listener must be there first.
	lines, err := listenSyslog("127.0.0.1:514")
	if err != nil {
		log.Fatal(err)
	}
	var services []*gokrazy.Service
	for _, argv := range [][]string{
		append([]string{daemon}, daemonFlags...),
		append([]string{misconfigured, "-reboot-mode", "never"}, daemonFlags...),
		{status, "status", "-modem", "http://127.0.0.1:8080", "-timeout", "1s"},
	} {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = append(os.Environ(), "SMSGATE_PASSWORD=pw")
		services = append(services, gokrazy.NewService(cmd))
	}
	go func() {
		if err := observe(lines); err != nil {
			say("FAIL %v", err)
			powerOff()
		}
	}()
	if err := gokrazy.SuperviseServices(services); err != nil {
		log.Fatal(err)
	}
	select {}
}

func powerOff() {
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
}

type line struct{ tag, text string }

// syslogLine is what Go's log/syslog sends over UDP:
// <PRI>TIMESTAMP HOSTNAME TAG[PID]: MSG
var syslogLine = regexp.MustCompile(`^<\d+>\S+ \S+ ([^\[ ]+)\[\d+\]: (.*?)\n?$`)

// listenSyslog prints what the services write, tagged with the service's
// name, and passes it on.
func listenSyslog(addr string) (<-chan line, error) {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, err
	}
	out := make(chan line, 10000)
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				say("syslog: %v", err)
				return
			}
			m := syslogLine.FindStringSubmatch(string(buf[:n]))
			if m == nil {
				say("syslog: unparsed %q", buf[:n])
				continue
			}
			fmt.Printf("%s: %s\n", m[1], m[2])
			out <- line{m[1], m[2]}
		}
	}()
	return out, nil
}

// startSim serves the simulated modem, with deliver in its inbox. It is
// not a gokrazy service: the scenario replaces it to put an SMS in.
func startSim(deliver ...string) (*exec.Cmd, error) {
	args := []string{"sim", "-listen", "127.0.0.1:8080", "-password", "pw"}
	for _, d := range deliver {
		args = append(args, "-deliver", owner+"="+d)
	}
	cmd := exec.Command(daemon, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ready := make(chan bool)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			fmt.Printf("sim: %s\n", sc.Text())
			if strings.Contains(sc.Text(), "serving on") {
				close(ready)
			}
		}
		cmd.Wait()
	}()
	select {
	case <-ready:
		return cmd, nil
	case <-time.After(60 * time.Second):
		return nil, fmt.Errorf("simulator not serving after 60s")
	}
}

// waiter reads the services' lines and keeps them, so that a wait finds a
// line that came before it began. A restart of the misconfigured service,
// at any time, fails the scenario.
type waiter struct {
	lines <-chan line
	seen  []line
	from  int // seen[from:] is what a wait may find
}

// forget makes later waits look only at lines that come after it.
func (w *waiter) forget() { w.from = len(w.seen) }

func (w *waiter) waitFor(tag, marker string, limit time.Duration) (string, error) {
	match := func(l line) bool { return l.tag == tag && strings.Contains(l.text, marker) }
	for _, l := range w.seen[w.from:] {
		if match(l) {
			return l.text, nil
		}
	}
	deadline := time.After(limit)
	for {
		select {
		case l := <-w.lines:
			w.seen = append(w.seen, l)
			if l.tag == filepath.Base(misconfigured) && strings.Contains(l.text, "gokrazy: attempt 1") {
				return "", fmt.Errorf("gokrazy restarted the misconfigured smsgate: %s", l.text)
			}
			if match(l) {
				return l.text, nil
			}
		case <-deadline:
			return "", fmt.Errorf("%s: no %q within %s", tag, marker, limit)
		}
	}
}

func observe(lines <-chan line) error {
	w := &waiter{lines: lines}
	tag := filepath.Base(daemon)
	start := time.Now()

	// 1. No modem yet: the status check fails (exit 1), and gokrazy
	// starts it again. Then the modem comes.
	for _, m := range []string{"gokrazy: exit status 1", "gokrazy: attempt 1, starting"} {
		if _, err := w.waitFor(filepath.Base(status), m, 120*time.Second); err != nil {
			return err
		}
	}
	sim, err := startSim()
	if err != nil {
		return err
	}
	if _, err := w.waitFor(filepath.Base(status), "gokrazy: exited successfully, stopping", 120*time.Second); err != nil {
		return err
	}
	say("gokrazy restarted smsgate status after exit status 1, and stopped it after exit 0")

	// 2. gokrazy holds the watchdog: smsgate says so, supervises itself and
	// serves.
	if _, err := w.waitFor(tag, "self-supervision: smsgate exits if the poll loop stalls", 60*time.Second); err != nil {
		return err
	}
	if _, err := w.waitFor(tag, "state=ok", 60*time.Second); err != nil {
		return err
	}
	say("misconfigured smsgate not restarted in %s", time.Since(start).Round(time.Second))

	// 3. A reboot SMS: smsgate asks gokrazy's init, which stops the
	// services and reboots.
	w.forget()
	sim.Process.Kill()
	sim.Wait()
	if _, err := w.waitFor(tag, "state=modem-unreachable", 60*time.Second); err != nil {
		return err
	}
	if _, err := startSim("reboot"); err != nil {
		return err
	}
	if _, err := w.waitFor(tag, "asking init to reboot", 60*time.Second); err != nil {
		return err
	}
	time.Sleep(60 * time.Second)
	return fmt.Errorf("still running 60s after gokrazy was asked to reboot")
}

package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Command is one SMS command, from the fixed table below. SMS text never
// reaches a shell: it only selects an entry of this table.
type Command struct {
	Name  string // one of commandNames
	Arg   string // the IR code name
	Count int    // IR repeats
}

func (c Command) String() string {
	if c.Name == "ir" {
		return fmt.Sprintf("ir %s %d", c.Arg, c.Count)
	}
	return c.Name
}

var commandNames = []string{"help", "status", "ping", "reboot", "modem reboot", "modem reconnect", "ir"}

// maxIRCount bounds "ir NAME COUNT": enough for a volume ramp, not a stuck
// transmitter.
const maxIRCount = 20

// parseCommand reads a command from the start of text. Case, extra spaces and
// anything after the command (a signature) are ignored.
func parseCommand(text string) (Command, bool) {
	words := strings.Fields(strings.ToLower(text))
	if len(words) == 0 {
		return Command{}, false
	}
	switch words[0] {
	case "help", "?", "status", "ping", "reboot":
		if words[0] == "?" {
			return Command{Name: "help"}, true
		}
		return Command{Name: words[0]}, true
	case "modem":
		if len(words) > 1 && (words[1] == "reboot" || words[1] == "reconnect") {
			return Command{Name: "modem " + words[1]}, true
		}
	case "ir":
		if len(words) < 2 {
			return Command{}, false
		}
		c := Command{Name: "ir", Arg: words[1], Count: 1}
		if len(words) > 2 {
			if n, err := strconv.Atoi(words[2]); err == nil {
				if n < 1 || n > maxIRCount {
					return Command{}, false
				}
				c.Count = n
			}
		}
		return c, true
	}
	return Command{}, false
}

// stripPIN checks that text starts with pin, in constant time, and returns
// the rest.
func stripPIN(text, pin string) (string, bool) {
	text = strings.TrimSpace(text)
	word, rest := text, ""
	if i := strings.IndexFunc(text, unicode.IsSpace); i >= 0 {
		word, rest = text[:i], strings.TrimSpace(text[i:])
	}
	if subtle.ConstantTimeCompare([]byte(word), []byte(pin)) != 1 {
		return "", false
	}
	return rest, true
}

// gatewayModem is what the gateway needs of the modem; the simulator-backed
// Modem is one, and tests may use others.
type gatewayModem interface {
	Poll(ctx context.Context) (PollState, error)
	Inbox(ctx context.Context) ([]SMS, error)
	Delete(ctx context.Context, ids ...int64) error
	MarkRead(ctx context.Context, ids ...int64) error
	Send(ctx context.Context, number, text string) error
	Capacity(ctx context.Context) (Capacity, error)
	Status(ctx context.Context) (map[string]string, error)
	Reboot(ctx context.Context) error
	Reconnect(ctx context.Context) (string, error)
}

// rebooter reboots the Pi. ctx ends when smsgate is told to stop, which
// is how an orderly reboot by init shows itself.
type rebooter interface {
	Reboot(ctx context.Context) error
}

// irSender fires named infrared codes.
type irSender interface {
	Send(ctx context.Context, name string, count int) error
	Names() []string
}

// Actions carries out commands.
type Actions struct {
	modem     gatewayModem
	reboot    rebooter
	ir        irSender // nil without -ir
	dryRun    bool
	checkHost string
	pinSet    bool
	host      hostInfo
	log       *slog.Logger
	// release gives back the LED and IR pins before a reboot, so that
	// they are not left driven while the machine goes down.
	release func()
}

// hostInfo reads the Pi's vital signs; a seam for tests.
type hostInfo interface {
	Uptime() (time.Duration, error)
	Summary() string
}

// Run executes cmd and returns the reply, plus what must happen after the
// reply is sent (a reboot cannot answer afterwards).
func (a *Actions) Run(ctx context.Context, cmd Command) (reply string, after func() error, err error) {
	switch cmd.Name {
	case "help":
		return a.help(), nil, nil
	case "ping":
		up, _ := a.host.Uptime()
		return fmt.Sprintf("pong, up %s", shortDuration(up)), nil, nil
	case "status":
		return a.status(ctx), nil, nil
	case "reboot":
		reply := "rebooting the Pi now"
		if a.dryRun {
			reply += " (dry run: not really)"
		}
		return reply, func() error {
			a.logAction("reboot", "", a.dryRun)
			if a.dryRun {
				return nil
			}
			if a.release != nil {
				a.release()
			}
			return a.reboot.Reboot(ctx)
		}, nil
	case "modem reboot":
		return "rebooting the modem now; back in about a minute", func() error {
			a.logAction("modem reboot", "", false)
			return a.modem.Reboot(ctx)
		}, nil
	case "modem reconnect":
		a.logAction("modem reconnect", "", false)
		ppp, err := a.modem.Reconnect(ctx)
		if err != nil {
			return "modem reconnect failed: " + shortErr(err), nil, err
		}
		return "modem reconnected: " + ppp, nil, nil
	case "ir":
		if a.ir == nil {
			return "no IR transmitter configured", nil, errors.New("ir: no -ir transmitter")
		}
		a.logAction("ir", cmd.String(), a.dryRun)
		if a.dryRun {
			return fmt.Sprintf("ir %s sent x%d (dry run)", cmd.Arg, cmd.Count), nil, nil
		}
		if err := a.ir.Send(ctx, cmd.Arg, cmd.Count); err != nil {
			return "ir failed: " + shortErr(err), nil, err
		}
		return fmt.Sprintf("ir %s sent x%d", cmd.Arg, cmd.Count), nil, nil
	}
	return "", nil, fmt.Errorf("no action for %q", cmd.Name)
}

func (a *Actions) logAction(action, detail string, dryRun bool) {
	a.log.Info("action", "action", action, "detail", detail, "dry_run", dryRun)
}

func (a *Actions) help() string {
	s := "smsgate: status | ping | reboot | modem reboot | modem reconnect"
	if a.ir != nil {
		s += " | ir NAME [N] (" + strings.Join(a.ir.Names(), ",") + ")"
	}
	s += " | help"
	if a.pinSet {
		s = "PIN first, e.g. 'PIN status'. " + s
	}
	return s
}

func (a *Actions) status(ctx context.Context) string {
	var b strings.Builder
	st, err := a.modem.Status(ctx)
	if err != nil {
		b.WriteString("modem: " + shortErr(err))
	} else {
		fmt.Fprintf(&b, "%s %s/5 %sdBm %s", st["network_type"], st["signalbar"], st["lte_rsrp"], st["network_provider"])
		if st["ppp_status"] == "ppp_connected" {
			fmt.Fprintf(&b, ", data up %s", st["wan_ipaddr"])
		} else {
			fmt.Fprintf(&b, ", data %s", strings.TrimPrefix(st["ppp_status"], "ppp_"))
		}
		if st["battery_vol_percent"] != "" {
			fmt.Fprintf(&b, ", bat %s%%", st["battery_vol_percent"])
		}
	}
	if c, err := a.modem.Capacity(ctx); err == nil {
		fmt.Fprintf(&b, ", sms %d/%d", c.Used, c.Total)
	}
	b.WriteString(" | pi " + a.host.Summary())
	if a.checkHost != "" {
		b.WriteString(" | " + checkReachability(ctx, a.checkHost))
	}
	return b.String()
}

// checkReachability resolves and connects to hostport: the two things that
// fail when the ISP's DNS or the uplink is down.
func checkReachability(ctx context.Context, hostport string) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return "check-host invalid"
	}
	dns := "ok"
	if _, err := net.DefaultResolver.LookupHost(ctx, host); err != nil {
		dns = "FAIL"
	}
	tcp := "ok"
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", hostport)
	if err != nil {
		tcp = "FAIL"
	} else {
		conn.Close()
	}
	return fmt.Sprintf("dns %s tcp %s", dns, tcp)
}

func shortErr(err error) string {
	s := err.Error()
	if len(s) > 60 {
		s = s[:60]
	}
	return s
}

func shortDuration(d time.Duration) string {
	d = d.Round(time.Minute)
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	if days > 0 {
		return fmt.Sprintf("%dd%dh", days, d/time.Hour)
	}
	return fmt.Sprintf("%dh%02dm", d/time.Hour, (d%time.Hour)/time.Minute)
}

// procHost reads the Pi's state from /proc and /sys.
type procHost struct{}

func (procHost) Uptime() (time.Duration, error) {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return 0, fmt.Errorf("uptime: %w", err)
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, errors.New("uptime: empty /proc/uptime")
	}
	s, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return 0, fmt.Errorf("uptime: %w", err)
	}
	return time.Duration(s * float64(time.Second)), nil
}

func (h procHost) Summary() string {
	var parts []string
	if up, err := h.Uptime(); err == nil {
		parts = append(parts, "up "+shortDuration(up))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			parts = append(parts, "load "+f[0])
		}
	}
	if b, err := os.ReadFile("/sys/class/thermal/thermal_zone0/temp"); err == nil {
		if milli, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			parts = append(parts, fmt.Sprintf("%dC", milli/1000))
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemAvailable:" {
				if kb, err := strconv.Atoi(f[1]); err == nil {
					parts = append(parts, fmt.Sprintf("mem %dM", kb/1024))
				}
			}
		}
	}
	if ip := lanAddress(); ip != "" {
		parts = append(parts, "lan "+ip)
	}
	return strings.Join(parts, " ")
}

// lanAddress is the first non-loopback IPv4 address: where to SSH in once
// the network is back.
func lanAddress() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return ""
}

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// gatewayModem is the name the gateway gave the modem before the port:
// kept as an alias so that code written against it still builds.
type gatewayModem = modemPort

// rebooter reboots the Pi. ctx cancelled (not timed out) is smsgate told
// to stop, which is how an orderly reboot by init shows itself.
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
	modem     modemPort
	reboot    rebooter
	ir        irSender // nil without -ir
	dryRun    bool
	noReboot  bool       // -no-reboot: the Pi reboot is logged, not done
	checkHost []string   // -check-host, repeatable
	secret    secretKind // what starts every command, for help
	programs  []*program // the owner's -cmd programs
	host      hostInfo
	log       *slog.Logger
	// release gives back the LED and IR pins before a reboot, so that
	// they are not left driven while the machine goes down.
	release func()
	// healNote says what healing did lately, for status.
	healNote func() string
	own      *ownerKit // USSD, pause, -reply-parts: ownerkit.go
}

// hostInfo reads the Pi's vital signs; a seam for tests.
type hostInfo interface {
	Uptime() (time.Duration, error)
	Summary() string
}

func (a *Actions) runPing(context.Context, Command) (string, func() error, error) {
	up, _ := a.host.Uptime()
	return fmt.Sprintf("pong, up %s", shortDuration(up)), nil, nil
}

func (a *Actions) runStatus(ctx context.Context, _ Command) (string, func() error, error) {
	return a.status(ctx), nil, nil
}

func (a *Actions) runReboot(ctx context.Context, _ Command) (string, func() error, error) {
	reply := "rebooting the Pi now"
	if a.dryRun {
		reply += " (dry run: not really)"
	} else if a.noReboot {
		reply += " (-no-reboot: not really)"
	}
	return reply, func() error {
		return a.rebootPi(ctx, "")
	}, nil
}

// rebootPi is the one way the Pi is rebooted, by a command or by healing
// (by says which): the pins are given back first.
func (a *Actions) rebootPi(ctx context.Context, by string) error {
	a.logAction("reboot", by, a.dryRun || a.noReboot)
	if a.dryRun || a.noReboot {
		return nil
	}
	if a.release != nil {
		a.release()
	}
	return a.reboot.Reboot(ctx)
}

func (a *Actions) runModemReboot(ctx context.Context, _ Command) (string, func() error, error) {
	if why := a.cannot(func(c Capabilities) bool { return c.Reboot }); why != nil {
		return "modem reboot: " + why.Error(), nil, fmt.Errorf("modem reboot: %w", why)
	}
	return "rebooting the modem now; back in about a minute", func() error {
		a.logAction("modem reboot", "", false)
		return a.modem.Reboot(ctx)
	}, nil
}

// runModemReconnect answers first: a disruptive command runs after the
// replies, so the outcome goes to the log (and the next status).
func (a *Actions) runModemReconnect(ctx context.Context, _ Command) (string, func() error, error) {
	if why := a.cannot(func(c Capabilities) bool { return c.Reconnect }); why != nil {
		return "modem reconnect: " + why.Error(), nil, fmt.Errorf("modem reconnect: %w", why)
	}
	return "reconnecting mobile data now", func() error {
		a.logAction("modem reconnect", "", false)
		ppp, err := a.modem.Reconnect(ctx)
		if err != nil {
			return err
		}
		a.log.Info("modem reconnected", "ppp_status", ppp)
		return nil
	}, nil
}

// cannot is errUnsupported when the modem's family lacks what can says;
// nil while the family is not known yet (the attempt will tell).
func (a *Actions) cannot(can func(Capabilities) bool) error {
	if info := a.modem.Info(); info.Family != "" && !can(info.Can) {
		return errUnsupported
	}
	return nil
}

func (a *Actions) runIR(ctx context.Context, cmd Command) (string, func() error, error) {
	if a.ir == nil {
		return "no IR transmitter configured", nil, errors.New("ir: no -ir transmitter")
	}
	// Checked before the dry-run shortcut: a dry run decides as a real
	// run would and only leaves the transmitter alone.
	if err := checkIR(a.ir, cmd); err != nil {
		return "ir failed: " + shortErr(err), nil, err
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

// checkIR refuses what IR.Send would refuse before transmitting: a code
// name that is not configured, a count out of range.
func checkIR(ir irSender, cmd Command) error {
	if !slices.Contains(ir.Names(), strings.ToLower(cmd.Arg)) {
		return fmt.Errorf("ir: no code named %q", cmd.Arg)
	}
	if cmd.Count < 1 || cmd.Count > maxIRCount {
		return fmt.Errorf("ir %s: count %d, want 1 to %d", cmd.Arg, cmd.Count, maxIRCount)
	}
	return nil
}

func (a *Actions) logAction(action, detail string, dryRun bool) {
	a.log.Info("action", "action", action, "detail", detail, "dry_run", dryRun)
}

func (a *Actions) status(ctx context.Context) string {
	var b strings.Builder
	st, err := a.modem.Status(ctx)
	if err != nil {
		b.WriteString("modem: " + shortErr(err))
	} else {
		b.WriteString(st.summary())
	}
	if c, err := a.modem.Capacity(ctx); err == nil {
		fmt.Fprintf(&b, ", sms %d/%d", c.Used, c.Total)
	}
	b.WriteString(" | pi " + a.host.Summary())
	for _, hp := range a.checkHost {
		b.WriteString(" | ")
		if len(a.checkHost) > 1 {
			host, _, _ := net.SplitHostPort(hp)
			b.WriteString(host + " ") // which one, when there are several
		}
		b.WriteString(probeHost(ctx, hp, 5*time.Second).String())
	}
	if a.healNote != nil {
		if note := a.healNote(); note != "" {
			b.WriteString(" | " + note)
		}
	}
	b.WriteString(a.own.statusNote())
	return b.String()
}

// summary is the modem's part of a status reply: "LTE 4/5 -95dBm SimTel,
// data up 10.0.0.2, bat 80%".
func (st ModemStatus) summary() string {
	var b strings.Builder
	bars := "?"
	if st.Bars >= 0 {
		bars = strconv.Itoa(st.Bars)
	}
	fmt.Fprintf(&b, "%s %s/5", orNone(st.Network), bars)
	if st.SignalDB != "" {
		fmt.Fprintf(&b, " %sdBm", st.SignalDB)
	}
	if st.Operator != "" {
		b.WriteString(" " + st.Operator)
	}
	if st.DataUp {
		fmt.Fprintf(&b, ", data up %s", st.WANIP)
	} else {
		fmt.Fprintf(&b, ", data %s", orNone(st.Data))
	}
	if st.Battery != "" {
		fmt.Fprintf(&b, ", bat %s%%", st.Battery)
	}
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

func (a *Actions) uptime() (time.Duration, error) { return a.host.Uptime() }

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

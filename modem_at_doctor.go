package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// DoctorChecks: the serial console, the port, AT, SIM, PDU mode, storage,
// registration and signal, one line each, in the order a person fixes them.
func (m *atModem) DoctorChecks(ctx context.Context) []check {
	m.op.Lock()
	defer m.op.Unlock()
	var out []check
	cmdline, _ := os.ReadFile("/proc/cmdline")
	resolved, _ := filepath.EvalSymlinks(m.cfg.Device)
	if c, ok := consoleCheck(m.cfg.Device, resolved, string(cmdline)); ok {
		out = append(out, c)
	}
	// A fresh open: the check says what opening the port does now.
	if m.conn != nil {
		m.conn.close()
		m.conn = nil
	}
	f, err := openSerial(m.cfg.Device, m.cfg.Baud)
	if err != nil {
		return append(out, openCheck(m.cfg.Device, err))
	}
	m.conn = newATConn(f, m.onURC, nil)
	m.mem1 = ""
	m.needInit.Store(true) // whatever doctor changes, the next use sets it up again
	out = append(out, check{Name: "serial", Level: levelOK, Detail: fmt.Sprintf("%s opened at %d baud", m.cfg.Device, m.cfg.Baud)})
	if _, err := m.exec(ctx, "AT", 2*time.Second); err != nil {
		return append(out, check{Name: "AT", Level: levelFail, Detail: "no answer to AT: " + err.Error(),
			Fix: "check ?baud= (115200 is usual), that this is the module's AT port (an EC25 on USB has 4 ports; AT is usually ttyUSB2), and that nothing else (ModemManager, a getty) uses it"})
	}
	m.exec(ctx, "ATE0", m.cfg.Timeout)
	m.exec(ctx, "AT+CMEE=1", m.cfg.Timeout)
	out = append(out, check{Name: "AT", Level: levelOK, Detail: "the module answers"})
	if err := m.readSIM(ctx); err != nil {
		return append(out, check{Name: "SIM", Level: levelFail, Detail: err.Error(), Fix: "insert the SIM, or remove its PIN (in a phone)"})
	}
	out = append(out, check{Name: "SIM", Level: levelOK, Detail: "ready"})
	if _, err := m.exec(ctx, "AT+CMGF=0", m.cfg.Timeout); err != nil {
		out = append(out, check{Name: "PDU mode", Level: levelFail, Detail: err.Error(), Fix: "this module does not take AT+CMGF=0; smsgate needs PDU mode"})
	} else {
		out = append(out, check{Name: "PDU mode", Level: levelOK, Detail: "AT+CMGF=0 accepted"})
	}
	out = append(out, m.storeCheck(ctx), m.networkCheck(ctx))
	return out
}

// consoleCheck: on a Pi's UART, the kernel's serial console (console= in
// cmdline.txt) or its getty takes the module's line.
func consoleCheck(dev, resolved, cmdline string) (check, bool) {
	uart := false
	for _, d := range []string{dev, resolved} {
		for _, u := range []string{"/dev/serial0", "/dev/serial1", "/dev/ttyAMA", "/dev/ttyS0"} {
			uart = uart || (d != "" && strings.HasPrefix(d, u))
		}
	}
	if !uart {
		return check{}, false
	}
	for _, f := range strings.Fields(cmdline) {
		con, ok := strings.CutPrefix(f, "console=")
		if !ok || strings.HasPrefix(con, "tty1") || strings.HasPrefix(con, "tty0") {
			continue
		}
		name := strings.Split(con, ",")[0]
		if strings.HasPrefix(name, "serial") || strings.HasPrefix(name, "ttyAMA") || strings.HasPrefix(name, "ttyS") {
			return check{Name: "console", Level: levelFail, Detail: "the kernel's serial console is on the UART (" + f + "): it and its login prompt talk over the module",
				Fix: "remove " + f + " from /boot/firmware/cmdline.txt (/boot/cmdline.txt on older systems), keep enable_uart=1 in config.txt, run `sudo systemctl disable --now serial-getty@ttyS0 serial-getty@ttyAMA0`, reboot"}, true
		}
	}
	return check{Name: "console", Level: levelOK, Detail: "no serial console on the UART"}, true
}

func openCheck(dev string, err error) check {
	c := check{Name: "serial", Level: levelFail, Detail: err.Error()}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		c.Fix = "no such device: check the cable or HAT power; `ls /dev/serial/by-id/` shows a stable name to use"
	case errors.Is(err, fs.ErrPermission):
		c.Fix = "no permission: run smsgate as root, or add its user to the dialout group"
	case errors.Is(err, syscall.EBUSY):
		c.Fix = "the port is busy: stop ModemManager (`sudo systemctl disable --now ModemManager`) or whatever holds " + dev
	default:
		c.Fix = "check that " + dev + " is the module's serial port"
	}
	return c
}

func (m *atModem) storeCheck(ctx context.Context) check {
	lines, err := m.exec(ctx, "AT+CPMS?", m.cfg.Timeout)
	if err != nil || len(lines) == 0 {
		return check{Name: "storage", Level: levelFail, Detail: fmt.Sprintf("AT+CPMS?: %v", err), Fix: "the SIM may still be starting: try again in a minute"}
	}
	s := parseCPMS(lines[0])
	if len(s) < 3 {
		return check{Name: "storage", Level: levelWarn, Detail: "unreadable answer " + clip(lines[0], 60)}
	}
	c := check{Name: "storage", Level: levelOK, Detail: fmt.Sprintf("receiving into %s: %d of %d used", s[2].Name, s[2].Used, s[2].Total)}
	if s[2].Total > 0 && s[2].Used >= s[2].Total {
		c.Level, c.Fix = levelWarn, "the store is full: new SMS are refused until smsgate (or `smsgate delete`) makes room"
	}
	return c
}

func (m *atModem) networkCheck(ctx context.Context) check {
	m.readReg(ctx)
	ps := m.pollState()
	sig := "signal unknown"
	if lines, err := m.exec(ctx, "AT+CSQ", m.cfg.Timeout); err == nil && len(lines) > 0 {
		if rssi, ok := parseCSQ(lines[0]); ok {
			sig = fmt.Sprintf("signal %d dBm", -113+2*rssi)
		}
	}
	if !ps.Registered {
		return check{Name: "network", Level: levelFail, Detail: "not registered, " + sig, Fix: "check the antenna, the SIM's plan and coverage; AT+COPS? names the operator once registered"}
	}
	return check{Name: "network", Level: levelOK, Detail: "registered, " + sig}
}

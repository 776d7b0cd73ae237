package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Probe reads what the device tells without a login (model, whether a
// login is needed and its scheme, whether it is locked) and logs in to
// nothing: what detection and doctor may call freely.
func (m *hilinkModem) Probe(ctx context.Context) (PortInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.learnLoginNeeded(ctx); err != nil {
		return m.info, fmt.Errorf("probe: %w", err)
	}
	if m.loginNeeded {
		n, err := m.get(ctx, "/api/user/state-login")
		if err != nil {
			return m.info, fmt.Errorf("probe: state-login: %w", err)
		}
		st := parseLoginState(n)
		m.info.Login, _ = st.scheme()
		if st.State == "0" {
			m.info.LoggedIn = true
		}
	}
	m.readInfo(ctx)
	return m.info, nil
}

// DoctorChecks are HiLink's own checks for `smsgate doctor`: the device,
// its login, the session read the daemon polls, storage and the link.
func (m *hilinkModem) DoctorChecks(ctx context.Context) []check {
	var out []check
	info, err := m.Probe(ctx)
	if err != nil {
		return append(out, check{Name: "hilink", Level: levelFail, Detail: err.Error(),
			Fix: "check -modem: the device must answer /api/user/hilink_login and /api/user/state-login with XML"})
	}
	// The model may need a session: the poll (and its login) comes first,
	// the line naming the device first all the same.
	_, perr := m.Poll(ctx)
	info = m.Info()
	out = append(out, check{Name: "hilink", Level: levelOK,
		Detail: fmt.Sprintf("Huawei HiLink, model %s, firmware %s, login %s", orUnknown(info.Model), orUnknown(info.Firmware), orUnknown(info.Login))})
	if err := perr; err != nil {
		c := check{Name: "login", Level: levelFail, Detail: err.Error()}
		var le *LoginError
		switch {
		case errors.As(err, &le) && le.Busy:
			c.Level, c.Fix = levelWarn, "log out of the modem's web UI (it allows few sessions)"
		case errors.As(err, &le):
			c.Fix = "set -password to the web UI password (user " + m.user + "; -user to change it); smsgate spends at most one refused login per password"
		default:
			c.Fix = "check the modem is reachable and answers /api/sms/sms-count"
		}
		return append(out, c)
	}
	out = append(out, check{Name: "login", Level: levelOK, Detail: "session read works (" + loginDetail(info) + ")"})
	if c, err := m.Capacity(ctx); err != nil {
		out = append(out, check{Name: "storage", Level: levelWarn, Detail: err.Error(), Fix: "the room-making rules cannot see how full the inbox is"})
	} else if c.Total > 0 && c.Used*10 >= c.Total*9 {
		out = append(out, check{Name: "storage", Level: levelWarn, Detail: fmt.Sprintf("%d of %d messages stored", c.Used, c.Total),
			Fix: "delete old messages: a full store takes no new SMS"})
	} else {
		out = append(out, check{Name: "storage", Level: levelOK, Detail: fmt.Sprintf("%d of %d messages stored", c.Used, c.Total)})
	}
	st, err := m.Status(ctx)
	switch {
	case err != nil:
		out = append(out, check{Name: "link", Level: levelWarn, Detail: err.Error()})
	case !st.SIMReady:
		out = append(out, check{Name: "link", Level: levelFail, Detail: "no SIM ready", Fix: "insert or unlock the SIM"})
	case !st.DataUp:
		out = append(out, check{Name: "link", Level: levelWarn, Detail: fmt.Sprintf("%s, data %s, %d bars", st.Network, st.Data, st.Bars)})
	default:
		out = append(out, check{Name: "link", Level: levelOK,
			Detail: strings.TrimSpace(fmt.Sprintf("%s %s, %d bars %s", st.Operator, st.Network, st.Bars, st.SignalDB))})
	}
	return out
}

func loginDetail(info PortInfo) string {
	switch {
	case info.Login == hilinkSchemeNone:
		return "the device has no login"
	case info.LoggedIn:
		return "logged in, " + info.Login
	}
	return "no login needed for it"
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// Logout ends a logged-in session (§3.4): a one-shot command should call
// it when done, since sessions left behind pile up ("Max sessions
// reached", 108003 after a few fresh logins). Without a session it sends
// nothing.
func (m *hilinkModem) Logout(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.info.LoggedIn || !m.loginNeeded {
		return nil
	}
	_, err := m.post(ctx, "/api/user/logout", xmlRequest(xf("Logout", "1")))
	m.dropSession()
	if err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	return nil
}

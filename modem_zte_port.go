package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// The ZTE goform client as a modem port: what the port asks in the same
// words for every family is mapped here from goform keys.

var _ modemPort = (*Modem)(nil)

func init() {
	registerFamily(familyZTE, func(t portTarget) (modemPort, error) {
		m, err := NewModem(t.Config)
		if err != nil {
			return nil, err
		}
		return m, nil
	})
}

// Status reads what a status reply says of the modem.
func (m *Modem) Status(ctx context.Context) (ModemStatus, error) {
	k, err := m.statusKeys(ctx)
	if err != nil {
		return ModemStatus{}, err
	}
	return zteStatus(k), nil
}

// zteStatus maps the goform status keys to the port's words.
func zteStatus(k map[string]string) ModemStatus {
	bars := -1
	if n, err := strconv.Atoi(k["signalbar"]); err == nil && n >= 0 && n <= 5 {
		bars = n
	}
	network := k["network_type"]
	if network == "no_service" || network == "limited_service" {
		network = strings.ReplaceAll(network, "_", " ")
	}
	st := ModemStatus{
		Network:  network,
		Bars:     bars,
		SignalDB: k["lte_rsrp"],
		Operator: k["network_provider"],
		DataUp:   dataUp(k["ppp_status"]),
		WANIP:    k["wan_ipaddr"],
		Battery:  k["battery_vol_percent"],
		// Blank: firmware that does not say, as Poll reads it.
		SIMReady: k["modem_main_state"] == "" || k["modem_main_state"] == "modem_init_complete",
	}
	if !st.DataUp {
		st.Data = strings.TrimPrefix(k["ppp_status"], "ppp_")
	}
	return st
}

// Info says what the client found out so far; it makes no request.
func (m *Modem) Info() PortInfo {
	d := m.Detected()
	login := d.Login
	if login != "" && login != schemeNone && d.LoginForm != "" {
		login = fmt.Sprintf("%s, goformId %s", login, d.LoginForm)
	}
	return PortInfo{
		Family: familyZTE, Model: d.Model, Firmware: d.Firmware, Generation: "goform",
		Login: login, LoggedIn: d.LoggedIn,
		Can: Capabilities{MarkRead: true, Reconnect: true, Reboot: true, USSD: true, LinkState: true},
	}
}

package main

import (
	"context"
	"errors"
)

// modemPort is what smsgate needs of a modem, whatever its family: the
// gateway, healing, alerts, doctor and the one-shot commands talk to this and
// nothing else. Each family (ZTE goform, ZTE ubus, Huawei HiLink, AT modules)
// is an adapter behind it, in files named modem_<family>.go.
//
// Everything that is the same for every family (judging a message, the
// exactly-once rules, the state file) stays out of the adapters; everything a
// family does its own way (sessions, tokens, encodings, storage) stays in.
//
// A method a family cannot carry out returns an error wrapping
// errUnsupported, so that the command answers that clearly instead of
// pretending. One goroutine owns a port at a time: the daemon's loop, or a
// one-shot command.
type modemPort interface {
	// Poll is the cheap read made when nothing else is going on: whether the
	// inbox may have changed (Unread changes when it did) and the link
	// state for the LED and healing.
	Poll(ctx context.Context) (PollState, error)
	// Inbox lists every received message, long messages merged; a message
	// missing parts is listed with Complete false.
	Inbox(ctx context.Context) ([]SMS, error)
	// Delete removes messages by the ids Inbox gave, and returns nil only
	// once the modem confirmed it (a merged message: all its parts).
	Delete(ctx context.Context, ids ...int64) error
	// MarkRead marks messages read, for owners who keep their inbox.
	MarkRead(ctx context.Context, ids ...int64) error
	// Send sends one SMS and returns nil only when the modem reported it
	// sent; errSendUnconfirmed when it took it but did not say.
	Send(ctx context.Context, number, text string) error
	// Capacity is the message store's use, to make room before it is full.
	Capacity(ctx context.Context) (Capacity, error)
	// Status is what a status reply says of the modem.
	Status(ctx context.Context) (ModemStatus, error)
	// Reboot restarts the modem.
	Reboot(ctx context.Context) error
	// Reconnect takes the mobile data link down and up again, and says how
	// it ended.
	Reconnect(ctx context.Context) (string, error)
	// Info says what the adapter found out: family, model, generation,
	// login scheme, what it can do. It makes no request.
	Info() PortInfo
}

// errUnsupported is what a family cannot do at all; wrapped with what was
// asked ("mark read: not supported by this modem").
var errUnsupported = errors.New("not supported by this modem")

// Modem families, as -modem-type names them and doctor prints them.
const (
	familyZTE    = "zte"    // goform web API, every generation of it
	familyUbus   = "ubus"   // ZTE's goform-less firmware: JSON-RPC on /ubus/
	familyHiLink = "hilink" // Huawei HiLink XML API
	familyAT     = "at"     // AT commands on a serial port
)

// PortInfo is what an adapter knows of its modem and of itself.
type PortInfo struct {
	Family     string // familyZTE, ...
	Model      string // "" until known
	Firmware   string
	Generation string // within a family: "classic", "f50 base64 inbox", "red encryption", ...
	Login      string // the login scheme in use, "" while unknown, "none" without one
	Encrypted  bool   // SMS travel in an envelope (ZTE's RED encryption)
	LoggedIn   bool
	Can        Capabilities
}

// Capabilities are what a family can do; a command that needs one the modem
// lacks answers so instead of trying.
type Capabilities struct {
	MarkRead  bool
	Reconnect bool
	Reboot    bool
	USSD      bool
	Calls     bool // incoming calls are seen (AT: RING and +CLIP)
	// LinkState: Poll tells whether mobile data is up. Without it healing
	// has nothing to watch, and Poll says up so that it never acts on a
	// guess.
	LinkState bool
	// Events: the adapter says when something arrived (eventSource), so
	// the gateway need not poll.
	Events bool
}

// ModemStatus is what a status reply says of the modem, the same for every
// family; a field the family does not report is left empty.
type ModemStatus struct {
	Network  string // radio technology or registration: "LTE", "3G", "no service"
	Bars     int    // signal 0-5, -1 unknown
	SignalDB string // RSRP or RSSI in dBm, the number without its unit ("-95")
	Operator string
	DataUp   bool
	Data     string // how the data link is when it is not up: "disconnected", "connecting", ...
	WANIP    string
	Battery  string // percent, for battery hotspots
	SIMReady bool
}

// eventSource is an adapter that says when a message arrived (an AT
// module's +CMTI): the gateway starts a pass at once instead of waiting for
// the next poll. A value on the channel is a hint, not a message; the pass
// still lists the inbox.
type eventSource interface {
	Events() <-chan struct{}
}

// portDoctor is an adapter with checks of its own for `smsgate doctor`
// (what a family's login, storage or serial line can get wrong).
type portDoctor interface {
	DoctorChecks(ctx context.Context) []check
}

// Plugging a family in (see modem_open.go):
//
//   - its file registers a constructor in an init:
//     registerFamily(familyHiLink, func(t portTarget) (modemPort, error) {...})
//     t.Config carries -modem (http://host[:port]), -user, -password,
//     -timeout and the logger; t.Device and t.Baud a serial line. The
//     constructor makes no request: detection is done by then.
//   - errors the gateway reads: errRefused (the modem refused an action:
//     try the ids one by one), errSendUnconfirmed (taken, not reported sent:
//     never retried), *LoginError (logins held to keep the owner's
//     attempts; the LED and one alert say so), errUnsupported.
//
// Optional interfaces an adapter may implement: refusalKeeper (its count
// of refused logins kept in the state file across restarts),
// sessionOpener (one-shot commands log in first), eventSource (arrivals
// start a pass at once), portDoctor and portDoctorLate (doctor checks of
// its own, before and after doctor's session checks), webTapper (doctor
// -capture records its requests), captureDetailer (what it detected, for
// the capture), statusPacer (tests shorten its waits).

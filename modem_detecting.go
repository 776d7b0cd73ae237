package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
)

// StepUnsupported skips a healing step the modem's family cannot take: a
// reconnect that does not exist is no step to count, alert or wait for.
func (h gatewayHeal) StepUnsupported(s healStep) string {
	info := h.g.modem.Info()
	if info.Family == "" {
		return "" // not known yet: the attempt will tell
	}
	switch {
	case s == stepReconnect && !info.Can.Reconnect, s == stepModemReboot && !info.Can.Reboot:
		return errUnsupported.Error()
	}
	return ""
}

// canMarkRead says whether -mark-read can be obeyed: a family that cannot
// mark read has its commands deleted instead, because a command must be
// off the modem before it runs, and one never removed would never run.
func (g *Gateway) canMarkRead() bool {
	info := g.modem.Info()
	if info.Family == "" || info.Can.MarkRead {
		return true
	}
	g.log.Warn("-mark-read: this modem cannot mark messages read; deleting the commands instead", "family", info.Family)
	return false
}

// portEvents is the port's arrival hints (eventSource), or nil, which
// never delivers: the poll interval alone then starts each pass.
func portEvents(p modemPort) <-chan struct{} {
	if es, ok := p.(eventSource); ok {
		return es.Events()
	}
	return nil
}

// detectingPort is the daemon's port while the family is not known yet: a
// Pi often boots faster than its modem, and smsgate must run (feed the
// watchdog, show the LED, heal) while the modem is not there. Every call
// first tries to detect the family, until one detection succeeds; from
// then on it is the family's adapter.
type detectingPort struct {
	target portTarget
	log    *slog.Logger

	mu   sync.Mutex
	port modemPort // nil until detected
	// seed is the refusal count the gateway restored before the family
	// was known, handed to the adapter once it is.
	seed *LoginRefusals
	// saver is handed to the adapter once it is known (loginSaver).
	saver loginRecorder
}

// newDetectingPort returns a port for t (an HTTP address to detect) that
// makes no request before its first use.
func newDetectingPort(t portTarget, log *slog.Logger) *detectingPort {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &detectingPort{target: t, log: log}
}

func (d *detectingPort) get(ctx context.Context) (modemPort, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.port != nil {
		return d.port, nil
	}
	p, err := openTarget(ctx, d.target)
	if err != nil {
		return nil, fmt.Errorf("modem family unknown: %w", err)
	}
	if rk, ok := p.(refusalKeeper); ok && d.seed != nil {
		rk.SetRefusals(*d.seed)
	}
	if ls, ok := p.(loginSaver); ok && d.saver != nil {
		ls.SaveBeforeLogin(d.saver)
	}
	info := p.Info()
	d.log.Info("modem family detected", "family", info.Family, "modem", d.target.Config.URL)
	d.port = p
	return p, nil
}

// adapterOf is the family's adapter behind p: the detected one while p is
// the daemon's detectingPort. An optional interface (USSD, a login hold, a
// logout) is asked of the adapter, which has it, not of the wrapper.
func adapterOf(p any) any {
	if d, ok := p.(*detectingPort); ok {
		if c := d.current(); c != nil {
			return c
		}
	}
	return p
}

func (d *detectingPort) current() modemPort {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.port
}

func (d *detectingPort) Poll(ctx context.Context) (PollState, error) {
	p, err := d.get(ctx)
	if err != nil {
		return PollState{}, err
	}
	return p.Poll(ctx)
}

func (d *detectingPort) Inbox(ctx context.Context) ([]SMS, error) {
	p, err := d.get(ctx)
	if err != nil {
		return nil, err
	}
	return p.Inbox(ctx)
}

func (d *detectingPort) Delete(ctx context.Context, ids ...int64) error {
	p, err := d.get(ctx)
	if err != nil {
		return err
	}
	return p.Delete(ctx, ids...)
}

func (d *detectingPort) MarkRead(ctx context.Context, ids ...int64) error {
	p, err := d.get(ctx)
	if err != nil {
		return err
	}
	return p.MarkRead(ctx, ids...)
}

func (d *detectingPort) Send(ctx context.Context, number, text string) error {
	p, err := d.get(ctx)
	if err != nil {
		return err
	}
	return p.Send(ctx, number, text)
}

func (d *detectingPort) Capacity(ctx context.Context) (Capacity, error) {
	p, err := d.get(ctx)
	if err != nil {
		return Capacity{}, err
	}
	return p.Capacity(ctx)
}

func (d *detectingPort) Status(ctx context.Context) (ModemStatus, error) {
	p, err := d.get(ctx)
	if err != nil {
		return ModemStatus{}, err
	}
	return p.Status(ctx)
}

func (d *detectingPort) Reboot(ctx context.Context) error {
	p, err := d.get(ctx)
	if err != nil {
		return err
	}
	return p.Reboot(ctx)
}

func (d *detectingPort) Reconnect(ctx context.Context) (string, error) {
	p, err := d.get(ctx)
	if err != nil {
		return "", err
	}
	return p.Reconnect(ctx)
}

// Info is the adapter's, or an empty Family while detection has not
// succeeded yet.
func (d *detectingPort) Info() PortInfo {
	if p := d.current(); p != nil {
		return p.Info()
	}
	return PortInfo{}
}

// Refusals and SetRefusals keep the owner's login attempts counted across
// a restart whatever the moment the family is found (see refusalKeeper).
func (d *detectingPort) Refusals() LoginRefusals {
	if rk, ok := d.current().(refusalKeeper); ok {
		return rk.Refusals()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.seed != nil {
		return *d.seed
	}
	return LoginRefusals{}
}

func (d *detectingPort) SetRefusals(r LoginRefusals) bool {
	if rk, ok := d.current().(refusalKeeper); ok {
		return rk.SetRefusals(r)
	}
	// Counted for this password only, as the adapters do.
	if r.Password != passwordFingerprint(d.target.Config.Password) {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seed = &r
	return true
}

// SaveBeforeLogin hands f to the adapter, now or once it is known.
func (d *detectingPort) SaveBeforeLogin(f loginRecorder) {
	if ls, ok := d.current().(loginSaver); ok {
		ls.SaveBeforeLogin(f)
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.saver = f
}

var (
	_ modemPort     = (*detectingPort)(nil)
	_ refusalKeeper = (*detectingPort)(nil)
	_ loginSaver    = (*detectingPort)(nil)
	_ loginSaver    = (*Modem)(nil)
	_ loginSaver    = (*ubusModem)(nil)
)

package main

import (
	"context"
	"net/url"
	"sync"
	"time"
)

// ubus logins race: web_login_info hands out a salt and web_login is
// judged against the salt the firmware holds then (zte-newer.md §2.5).
// Another client asking for a salt in between (a daemon and a one-shot
// `smsgate status` beside it, the web UI) makes the firmware refuse a
// right password. The notes say nothing of what the refusal means nor of
// the salt's lifetime, so smsgate (1) never races itself: its logins to
// one modem are taken one at a time on the host (hostLoginLock), and
// (2) judges a refusal a wrong password only when the salt is still the
// one it hashed (ubusModem.refused).

// ubusLoginKey names the login lock of the modem at base (scheme://host),
// the same for the family probe and the adapter.
func ubusLoginKey(base string) string {
	if u, err := url.Parse(base); err == nil && u.Host != "" {
		return "ubus " + u.Scheme + "://" + u.Host
	}
	return "ubus " + base
}

// loginLocks serialise logins to one modem within this process; the
// host-wide lock (hostLock, Linux only) does it across smsgate processes.
var loginLocks sync.Map // key -> *sync.Mutex

// hostLoginLock waits, at most wait, until no other smsgate on this host
// is logging in to the modem named key, and returns how to let the next
// one go. alone is false when it could not tell (the wait ran out, or the
// system has no such lock): a refusal then may have been a race.
func hostLoginLock(ctx context.Context, key string, wait time.Duration) (release func(), alone bool) {
	v, _ := loginLocks.LoadOrStore(key, &sync.Mutex{})
	mu := v.(*sync.Mutex)
	if wait <= 0 {
		wait = 30 * time.Second
	}
	deadline := time.Now().Add(wait)
	for {
		if mu.TryLock() {
			unlockHost, ok := hostLock(key)
			if ok {
				return func() { unlockHost(); mu.Unlock() }, true
			}
			if !hostLockTaken(unlockHost) {
				// No host-wide lock on this system: this process only.
				return mu.Unlock, false
			}
			mu.Unlock()
		}
		if !time.Now().Before(deadline) {
			return func() {}, false
		}
		select {
		case <-ctx.Done():
			return func() {}, false
		case <-time.After(25 * time.Millisecond):
		}
	}
}

package main

import (
	"fmt"
	"time"
)

// backoff is the one rule for "wait longer after each failure": the first
// wait, then each one factor times the one before (2 unless set), never
// more than max (no cap when max is 0). max bounds the growth, not the
// first wait: healing's first wait between rounds is -heal-after, which
// may be set above its 8 h cap. It is deterministic, without
// jitter: every site waits for one device or one owner, never for a crowd
// of clients that jitter would spread out.
//
// A site that keeps its own count of failures (saved in the state, named
// in a log line) asks wait(n); a site that keeps only the back-off calls
// Next after each failure and Reset once things work again.
type backoff struct {
	first, max time.Duration
	factor     int // 0 means 2
	n          int // waits handed out by Next since the last Reset
}

// wait is the wait after n earlier waits (n = 0: first); from the second
// on, at most max. It does not overflow for any n.
func (b backoff) wait(n int) time.Duration {
	if n <= 0 {
		return b.first
	}
	f := time.Duration(b.factor)
	if f < 2 {
		f = 2
	}
	d := b.first
	for i := 0; i < n; i++ {
		if b.max > 0 && d >= b.max {
			break
		}
		if d > (1<<63-1)/f {
			d = 1<<63 - 1 // would overflow: as long as a Duration goes
			break
		}
		d *= f
	}
	if b.max > 0 {
		d = min(d, b.max)
	}
	return d
}

// Next is the wait after this failure; the one after will be longer.
func (b *backoff) Next() time.Duration {
	d := b.wait(b.n)
	b.n++
	return d
}

// Reset starts again from first: what failed works again.
func (b *backoff) Reset() { b.n = 0 }

// String says the rule as log lines give it: "1 min, doubling to 8 min".
// A log line that says the numbers takes them from here, so that it
// cannot say other numbers than the ones waited (a warning once said
// 30 min where the cap was 8).
func (b backoff) String() string {
	grow := "doubling"
	if b.factor > 2 {
		grow = fmt.Sprintf("times %d", b.factor)
	}
	if b.max <= 0 {
		return humanWait(b.first) + ", " + grow + " each time"
	}
	return humanWait(b.first) + ", " + grow + " to " + humanWait(b.max)
}

// humanWait is a wait in whole hours, minutes or seconds where it is one.
func humanWait(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%d h", d/time.Hour)
	case d >= time.Minute && d%time.Minute == 0:
		return fmt.Sprintf("%d min", d/time.Minute)
	case d%time.Second == 0:
		return fmt.Sprintf("%d s", d/time.Second)
	}
	return d.String()
}

package main

import (
	"testing"
	"time"
)

func TestBackoffWait(t *testing.T) {
	const maxDur = time.Duration(1<<63 - 1)
	for _, tc := range []struct {
		name string
		b    backoff
		want []time.Duration // wait(0), wait(1), ...
	}{
		{"doubles to the cap", backoff{first: time.Minute, max: 8 * time.Minute},
			[]time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 8 * time.Minute}},
		{"cap between two steps", backoff{first: 2 * time.Second, max: 30 * time.Second},
			[]time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}},
		{"factor four", backoff{first: time.Minute, factor: 4},
			[]time.Duration{time.Minute, 4 * time.Minute, 16 * time.Minute, 64 * time.Minute}},
		{"first above the cap is kept once", backoff{first: time.Hour, max: time.Minute},
			[]time.Duration{time.Hour, time.Minute, time.Minute}},
		{"no cap saturates, never wraps", backoff{first: time.Hour},
			[]time.Duration{time.Hour, 2 * time.Hour}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for n, want := range tc.want {
				if got := tc.b.wait(n); got != want {
					t.Errorf("wait(%d) = %v, want %v", n, got, want)
				}
			}
			if got := tc.b.wait(-1); got != tc.b.wait(0) {
				t.Errorf("wait(-1) = %v, want the first wait %v", got, tc.b.wait(0))
			}
			// Far out: the cap (or the longest Duration), never a wrap
			// to a short or negative wait.
			want := tc.b.max
			if want == 0 {
				want = maxDur
			}
			for _, n := range []int{62, 63, 64, 1000} {
				if got := tc.b.wait(n); got != want {
					t.Errorf("wait(%d) = %v, want %v", n, got, want)
				}
			}
		})
	}
}

func TestBackoffNextReset(t *testing.T) {
	b := backoff{first: time.Second, max: 5 * time.Second}
	var got []time.Duration
	for range 4 {
		got = append(got, b.Next())
	}
	b.Reset()
	got = append(got, b.Next())
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, time.Second}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Next after Reset: got %v, want %v", got, want)
		}
	}
}

// TestBackoffString: the rule as log lines say it, from the numbers waited.
func TestBackoffString(t *testing.T) {
	for _, tt := range []struct {
		b    backoff
		want string
	}{
		{reloginBackoff, "1 min, doubling to 8 min"},
		{backoff{first: 2 * time.Second, max: 30 * time.Second}, "2 s, doubling to 30 s"},
		{backoff{first: 10 * time.Minute, max: 8 * time.Hour}, "10 min, doubling to 8 h"},
		{backoff{first: time.Minute, factor: 4, max: time.Hour}, "1 min, times 4 to 1 h"},
		{alertRetry, "5 min, doubling each time"},
		{backoff{first: 1500 * time.Millisecond}, "1.5s, doubling each time"},
	} {
		if got := tt.b.String(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.b, got, tt.want)
		}
	}
}

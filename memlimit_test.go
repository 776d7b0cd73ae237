package main

import (
	"math"
	"runtime/debug"
	"testing"
)

// TestDaemonMemoryLimit: the daemon, and only the daemon, runs under a soft
// memory limit unless GOMEMLIMIT says otherwise (the peak RSS budget of
// BENCHMARKS.md).
func TestDaemonMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	noEnv := func(string) string { return "" }
	tests := []struct {
		args []string
		env  func(string) string
		want bool
	}{
		{nil, noEnv, true},
		{[]string{"-allow", "+15550001111"}, noEnv, true},
		{[]string{"run", "-allow", "+15550001111"}, noEnv, true},
		{[]string{"status"}, noEnv, false},
		{[]string{"sim"}, noEnv, false},
		{[]string{"doctor", "-modem", "http://127.0.0.1"}, noEnv, false},
		{[]string{"run"}, noEnv, true},
		{nil, func(k string) string { return map[string]string{"GOMEMLIMIT": "64MiB"}[k] }, false},
	}
	for _, tt := range tests {
		debug.SetMemoryLimit(math.MaxInt64)
		got := limitMemory(tt.args, tt.env)
		limit := debug.SetMemoryLimit(-1)
		if got != tt.want || (limit == daemonMemoryLimit) != tt.want {
			t.Errorf("limitMemory(%q) = %v, limit %d", tt.args, got, limit)
		}
	}
}

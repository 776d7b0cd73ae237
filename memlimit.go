package main

import "runtime/debug"

// daemonMemoryLimit is the Go runtime's soft memory limit for the daemon:
// near it the garbage collector runs sooner instead of letting the heap
// double first. Through a flood it keeps the peak resident set about 2 MiB
// lower (BENCHMARKS.md); an idle smsgate's heap is far below it, where it
// costs nothing. It is soft: an allocation never fails for it, the
// collector only works harder (at most half the CPU). GOMEMLIMIT overrides
// it.
const daemonMemoryLimit = 8 << 20

// limitMemory sets daemonMemoryLimit when args run the daemon, and reports
// whether it did.
func limitMemory(args []string, getenv func(string) string) bool {
	if getenv("GOMEMLIMIT") != "" {
		return false
	}
	if cmd, _ := splitCommand(args); cmd != "run" {
		return false // a one-shot command, the simulator, doctor
	}
	debug.SetMemoryLimit(daemonMemoryLimit)
	return true
}

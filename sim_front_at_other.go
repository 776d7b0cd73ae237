//go:build !linux && !nosim

package main

// The AT simulator needs Linux pseudo-terminals: no AT personalities here.

func atSimFrontNames() []string { return nil }

func isATSimPersonality(string) bool { return false }

func startATFront(string) (simFront, bool, error) { return nil, false, nil }

//go:build linux && !nosim

package main

import (
	"testing"
	"time"
)

// The AT module's rows of TestEveryFamilysRefusedSendIsATry and
// TestDeleteSaysWhatItFound: its simulator runs on a Linux pseudo-terminal.
func init() {
	refusingFamilies = append(refusingFamilies, refusingFamily{"at", startATFamily, func(fs familySim) {
		fs.(atFamily).sim.SetFaults(atSimFaults{CMGSRefused: true})
	}})
	deleteFamilies = append(deleteFamilies, deleteFamily{"at", startATDeleteSim})
}

func startATDeleteSim(t *testing.T) (string, []int64, func() []int64) {
	sim, err := startATSim("sim7600")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	id := func(store string, index int) int64 { return atFamilyIDBase[store] + int64(index) }
	var ids []int64
	for _, text := range []string{"first", "second"} {
		ids = append(ids, id(sim.DeliverWhere("+15550001111", text, time.Now().Add(-time.Hour), 0)))
	}
	inbox := func() []int64 {
		var out []int64
		for _, w := range sim.Stored() {
			out = append(out, id(w.Store, w.Index))
		}
		return out
	}
	return "serial:" + sim.DevicePath(), ids, inbox
}

//go:build !nosim

package main

import (
	"encoding/json"
	"testing"
)

// TestSimRecordConcatRoundTrip: the concatenation fields of a captured
// record, read back by simRecordConcat, are what the simulator lists
// again, so a replay tells the client what the real modem told it. A
// firmware that leaves the fields empty is listed as one whole part, as
// the notes say such a record is.
func TestSimRecordConcatRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name            string
		all, total, rcv string // as captured
		want            [3]string
	}{
		{"one part", "1", "0", "0", [3]string{"1", "0", "0"}},
		{"long, whole", "1", "3", "3", [3]string{"1", "3", "3"}},
		{"long, parts missing", "0", "3", "2", [3]string{"0", "3", "2"}},
		{"says all, counts fewer", "1", "3", "2", [3]string{"1", "3", "2"}},
		{"first part only, no counts", "0", "0", "0", [3]string{"0", "0", "0"}},
		{"no concatenation support", "", "", "", [3]string{"1", "0", "0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(simPersonalities["mc801a"], "pw")
			m := simMsg{id: 1, number: "+15550100001", text: "replayed message 1", tag: "1", date: "22,09,17,18,33,25,+12"}
			m.partsTotal, m.partsRecv, m.incomplete = simRecordConcat(tc.all, tc.total, tc.rcv)
			var rec map[string]any
			if err := json.Unmarshal([]byte(s.record(&m, false)), &rec); err != nil {
				t.Fatalf("record is not JSON: %v", err)
			}
			got := [3]string{}
			for i, k := range []string{"received_all_concat_sms", "concat_sms_total", "concat_sms_received"} {
				got[i], _ = rec[k].(string)
			}
			if got != tc.want {
				t.Errorf("listed %q, want %q", got, tc.want)
			}
		})
	}
}

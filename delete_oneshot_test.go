package main

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// deleteFamily is one family's simulator for the delete one-shot: its
// -modem address, and two messages delivered, by the ids `list` shows.
type deleteFamily struct {
	name  string
	start func(t *testing.T) (modem string, ids []int64, inbox func() []int64)
}

// deleteFamilies: the AT module's row is added where its simulator builds
// (linux, refusal_at_test.go).
var deleteFamilies = []deleteFamily{
	{"zte", func(t *testing.T) (string, []int64, func() []int64) { return startDeleteSim(t, "mf920v") }},
	{"ubus", func(t *testing.T) (string, []int64, func() []int64) { return startDeleteSim(t, "u60pro") }},
	{"hilink", func(t *testing.T) (string, []int64, func() []int64) {
		sim, err := NewHiLinkSim("e3372h", "pw")
		if err != nil {
			t.Fatal(err)
		}
		if err := sim.Start("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sim.Close() })
		a := sim.Deliver("+15550001111", "first", time.Now().Add(-time.Hour))
		b := sim.Deliver("+15550001111", "second", time.Now().Add(-time.Hour))
		return sim.URL, []int64{a, b}, sim.Inbox
	}},
}

func startDeleteSim(t *testing.T, personality string) (string, []int64, func() []int64) {
	t.Helper()
	sim, err := NewSim(personality, "pw")
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	a := sim.Deliver("+15550001111", "first", time.Now().Add(-time.Hour))
	b := sim.Deliver("+15550001111", "second", time.Now().Add(-time.Hour))
	return sim.URL, []int64{a, b}, sim.Inbox
}

// TestDeleteSaysWhatItFound: `smsgate delete` says which of the ids asked
// it deleted and which the inbox did not hold, on every family, and exits
// 1 when it held none of them. Witness: `delete 99999` printed "deleted 1
// message(s)" and exited 0 on every personality, though no message 99999
// existed.
func TestDeleteSaysWhatItFound(t *testing.T) {
	for _, f := range deleteFamilies {
		t.Run(f.name, func(t *testing.T) {
			modem, ids, inbox := f.start(t)
			del := func(args ...string) (string, error) {
				var out bytes.Buffer
				err := run(append([]string{"delete", "-modem", modem, "-password", "pw", "-timeout", "5s"}, args...), strings.NewReader(""), &out, &out)
				return out.String(), err
			}
			out, err := del("99999")
			if err == nil || exitCode(err) != 1 || strings.Contains(out, "deleted") {
				t.Errorf("delete of an id not in the inbox: exit %d (%v), said %q; want exit 1, nothing deleted", exitCode(err), err, out)
			}
			if err != nil && !strings.Contains(err.Error(), "99999") {
				t.Errorf("error %q does not name the id", err)
			}
			if n := len(inbox()); n != 2 {
				t.Fatalf("%d messages left, want both", n)
			}
			out, err = del(fmt.Sprint(ids[0]), "99999")
			if err != nil {
				t.Fatalf("delete of one id held and one not: %v\n%s", err, out)
			}
			want := fmt.Sprintf("deleted 1 message(s): %d\nnot in the inbox: 99999\n", ids[0])
			if out != want {
				t.Errorf("said %q, want %q", out, want)
			}
			if left := inbox(); len(left) != 1 || !slices.Contains(left, ids[1]) {
				t.Errorf("left %v, want only %d", left, ids[1])
			}
		})
	}
}

// TestDeleteSaysWhatTheModemKept: a modem that answers success and keeps
// the message (a faulty ZTE) is not taken at its word: `smsgate delete`
// says the id is still listed and exits 1.
func TestDeleteSaysWhatTheModemKept(t *testing.T) {
	sim, err := NewSim("mf920v", "pw")
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	kept := sim.Deliver("+15550001111", "kept", time.Now().Add(-time.Hour))
	gone := sim.Deliver("+15550001111", "gone", time.Now().Add(-time.Hour))
	sim.SetFaults(func(f *SimFaults) { f.DeleteKeeps = map[int64]bool{kept: true} })
	var out bytes.Buffer
	err = run([]string{"delete", "-modem", sim.URL, "-password", "pw", "-timeout", "5s", fmt.Sprint(kept), fmt.Sprint(gone)}, strings.NewReader(""), &out, &out)
	if exitCode(err) != 1 || err == nil || !strings.Contains(err.Error(), fmt.Sprint("still lists ", kept)) {
		t.Errorf("exit %d (%v), want 1 naming %d still listed", exitCode(err), err, kept)
	}
	if want := fmt.Sprintf("deleted 1 message(s): %d\n", gone); out.String() != want {
		t.Errorf("said %q, want %q", out.String(), want)
	}
}

package main

import (
	"bytes"
	"context"
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

// halfDelete lists one id with two messages; a delete of it removes only
// the first, as a modem whose delete by id takes one row may.
type halfDelete struct {
	modemPort // only Inbox and Delete are called
	msgs      []SMS
}

func (h *halfDelete) Inbox(context.Context) ([]SMS, error) {
	return dedupeByID(slices.Clone(h.msgs)), nil
}

func (h *halfDelete) Delete(_ context.Context, ids ...int64) error {
	for _, id := range ids {
		if i := slices.IndexFunc(h.msgs, func(s SMS) bool { return s.ID == id }); i >= 0 {
			h.msgs = slices.Delete(h.msgs, i, i+1)
		}
	}
	return nil
}

// Cold review: on an id listed with several messages, a delete that
// removed only one was reported deleted (exit 0): the listing after was
// compared as a whole. It is compared record by record: a message listed
// before and still listed is kept, and said so.
func TestDeleteSharedIDPartlyKept(t *testing.T) {
	at := "26,03,14,12,00,00,+4"
	m := &halfDelete{msgs: []SMS{
		{ID: 7, From: "+15550001111", Text: "first", RawDate: at, Complete: true},
		{ID: 7, From: "+15550002222", Text: "second", RawDate: at, Complete: true},
	}}
	var out bytes.Buffer
	err := deleteListed(context.Background(), m, []int64{7}, &out)
	if err == nil || !strings.Contains(err.Error(), "still lists 7") {
		t.Errorf("delete of a shared id that left one message: %v (said %q), want it still listed", err, out.String())
	}
}

// wholeDelete deletes every message under an id, as ZTE does by id.
type wholeDelete struct{ halfDelete }

func (w *wholeDelete) Delete(_ context.Context, ids ...int64) error {
	w.msgs = slices.DeleteFunc(w.msgs, func(s SMS) bool { return slices.Contains(ids, s.ID) })
	return nil
}

// Final witness: a delete of an id that held a stranger's message beside
// the owner's said "deleted 1 message(s)" though two went. The count is of
// messages, the ids are the ids.
func TestDeleteSharedIDCountsItsMessages(t *testing.T) {
	at := "26,03,14,12,00,00,+4"
	m := &wholeDelete{halfDelete{msgs: []SMS{
		{ID: 7, From: "+15550001111", Text: "first", RawDate: at, Complete: true},
		{ID: 7, From: "+15550002222", Text: "second", RawDate: at, Complete: true},
		{ID: 8, From: "+15550002222", Text: "third", RawDate: at, Complete: true},
	}}}
	var out bytes.Buffer
	if err := deleteListed(context.Background(), m, []int64{7}, &out); err != nil {
		t.Fatal(err)
	}
	if want := "deleted 2 message(s): 7\n"; out.String() != want {
		t.Errorf("said %q, want %q", out.String(), want)
	}
}

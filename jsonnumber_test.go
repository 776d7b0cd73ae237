package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// A JSON number where the notes say a string is read as its text: the F50
// answers a good LOGIN with {"result":0}, and other firmware may write ids
// or counters bare.
func TestJSONNumbersReadAsText(t *testing.T) {
	v, err := parseLenientJSON([]byte(`{"result":0,"n":-12.50,"big":12345678901234567890,"e":1e3,"messages":[{"id":164,"tag":1,"content":"0041"}],"o":{"k":7}}`))
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"result": "0", "n": "-12.50", "big": "12345678901234567890", "e": "1e3"} {
		if got, ok := v[k].(string); !ok || got != want {
			t.Errorf("%s: %#v, want %q", k, v[k], want)
		}
	}
	msgs, _ := v["messages"].([]any)
	rec, _ := msgs[0].(map[string]any)
	if rec["id"] != "164" || rec["tag"] != "1" {
		t.Errorf("record %#v", rec)
	}
	if o, _ := v["o"].(map[string]any); o["k"] != "7" {
		t.Errorf("nested object %#v", v["o"])
	}
	// The repaired path (doubled quotes, control characters) reads them too.
	v, err = parseLenientJSON([]byte("{\"result\":4,\"x\":\"\"a\"\",\"y\":\"b\x01\"}"))
	if err != nil || v["result"] != "4" {
		t.Errorf("repaired: %#v, %v", v, err)
	}
}

// f50Like answers LOGIN with a bare number, as the stock F50 backend does.
func f50Like() simPersonality {
	p := simPersonalities["mf297d"]
	p.name, p.numericResult = "f50-like", true
	return p
}

// TestNumericLoginResultIsAccepted: the fake that answers {"result":0}
// made smsgate read `modem answered ""` and spend a real attempt (another
// password scheme) on every try.
func TestNumericLoginResultIsAccepted(t *testing.T) {
	sim, m, _ := startSimAs(t, f50Like(), "s3cret", "s3cret")
	if _, err := m.Poll(context.Background()); err != nil {
		t.Fatalf("poll: %v", err)
	}
	if d := m.Detected(); !d.LoggedIn || d.OwnRefusals != 0 {
		t.Errorf("detected %+v", d)
	}
	if got := sim.Record().Logins; len(got) != 1 || got[0].Result != "0" {
		t.Errorf("logins %+v, want one accepted", got)
	}
}

// An answer to LOGIN the client cannot read is never taken for a refused
// password: a live session afterwards means it was accepted; without one,
// it holds the login for a lock period, says the answer was not
// understood, and tries no other password scheme at once (that would be a
// real wrong password).
func TestUnreadableLoginAnswerIsNoRefusal(t *testing.T) {
	hint := simPersonalities["mf920v"]
	hint.name, hint.model, hint.inner = "unnamed", "X1", "BD_X1V1.0.0B01" // neither config.js nor the model tells
	for _, mode := range []string{"garbled", "noresult", "strange"} {
		t.Run(mode+"/right password", func(t *testing.T) {
			sim, m, _ := startSimAs(t, hint, "right", "right")
			sim.SetFaults(func(f *SimFaults) { f.LoseLogin = mode })
			if _, err := m.Poll(context.Background()); err != nil {
				t.Fatalf("poll: %v", err)
			}
			if d := m.Detected(); !d.LoggedIn || d.OwnRefusals != 0 {
				t.Errorf("detected %+v", d)
			}
			if n := len(sim.Record().Logins); n != 1 {
				t.Errorf("%d logins, want 1", n)
			}
		})
		t.Run(mode+"/wrong password", func(t *testing.T) {
			sim, m, clk := startSimAs(t, hint, "right", "wrong")
			sim.SetFaults(func(f *SimFaults) { f.LoseLogin = mode })
			_, err := m.Poll(context.Background())
			var le *LoginError
			if !errors.As(err, &le) {
				t.Fatalf("poll: %v, want the login held", err)
			}
			if msg := le.Reason; strings.Contains(msg, "wrong password") || strings.Contains(msg, "refused") || !strings.Contains(msg, "not understood") {
				t.Errorf("reason %q: want 'not understood', never a refusal", msg)
			}
			if n := len(sim.Record().Logins); n != 1 {
				t.Errorf("%d logins at once, want 1 (no other scheme tried on an unread answer)", n)
			}
			clk.Advance(time.Minute)
			m.Poll(context.Background())
			if n := len(sim.Record().Logins); n != 1 {
				t.Errorf("%d logins within the lock period, want 1", n)
			}
		})
	}
}

func TestDecodeJSONObjectWhole(t *testing.T) {
	for _, in := range []string{`{}x`, `{} {}`, `[1]`, `"s"`, `{"a":1`} {
		if v, err := decodeJSONObject([]byte(in)); err == nil {
			t.Errorf("%q read as %#v", in, v)
		}
	}
	if v, err := decodeJSONObject([]byte(" {\"a\":1}\n ")); err != nil || v["a"] != "1" {
		t.Errorf("%#v %v", v, err)
	}
}

func FuzzDecodeJSONObject(f *testing.F) {
	f.Add([]byte(`{"result":0,"messages":[{"id":1}]}`))
	f.Add([]byte(`{"a":1e400}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := decodeJSONObject(b)
		if err != nil {
			return
		}
		var walk func(any)
		walk = func(x any) {
			switch x := x.(type) {
			case map[string]any:
				for _, e := range x {
					walk(e)
				}
			case []any:
				for _, e := range x {
					walk(e)
				}
			case string, bool, nil:
			default:
				t.Fatalf("value of type %T left in %q", x, b)
			}
		}
		walk(v)
	})
}

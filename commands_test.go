package main

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestREADMECommandTable: README's table of SMS commands is the one the
// code has, row for row.
func TestREADMECommandTable(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## SMS commands\n")
	if !ok {
		t.Fatal("README has no SMS commands section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var rows []string
	inTable := false
	for _, line := range strings.Split(section, "\n") {
		switch {
		case strings.HasPrefix(line, "| send |"):
			inTable = true
		case inTable && strings.HasPrefix(line, "|---"):
		case inTable && strings.HasPrefix(line, "|"):
			rows = append(rows, line)
		case inTable:
			inTable = false
		}
	}
	want := readmeCommandRows()
	if !slices.Equal(rows, want) {
		t.Errorf("README's command table differs from the code's; want exactly these rows:\n%s\n\nREADME has:\n%s",
			strings.Join(want, "\n"), strings.Join(rows, "\n"))
	}
}

// TestCommandTable: every entry can be sent, runs, is in help, and says
// whether it is disruptive.
func TestCommandTable(t *testing.T) {
	disruptive := []string{"reboot", "modem reboot", "modem reconnect"}
	a := &Actions{ir: namesOnlyIR{"power"}}
	help := a.help()
	for _, s := range commandTable {
		text := s.name
		if s.args != "" {
			text += " power 2"
		}
		c, ok := parseCommand(strings.ToUpper(text) + "\n-- sig")
		if !ok || c.Name != s.name {
			t.Errorf("%q parses as %+v, %v", text, c, ok)
		}
		if s.alias != "" {
			if c, ok := parseCommand(s.alias); !ok || c.Name != s.name {
				t.Errorf("alias %q parses as %+v, %v", s.alias, c, ok)
			}
		}
		if s.run == nil || s.does == "" || (s.example == "" && s.name != "help") {
			t.Errorf("%s: incomplete entry", s.name)
		}
		if !strings.Contains(help, s.name) {
			t.Errorf("help %q lacks %s", help, s.name)
		}
		if got, want := c.Disruptive(), slices.Contains(disruptive, s.name); got != want {
			t.Errorf("%s: disruptive %v, want %v", s.name, got, want)
		}
		if got, want := c.RebootLimited(), s.name == "reboot"; got != want {
			t.Errorf("%s: reboot-limited %v, want %v", s.name, got, want)
		}
	}
	if _, _, err := a.Run(context.Background(), Command{Name: "rm -rf"}); err == nil {
		t.Error("a name outside the table ran")
	}
	// Without a transmitter, ir is not offered.
	if h := (&Actions{}).help(); strings.Contains(h, "ir ") {
		t.Errorf("help without -ir: %q", h)
	}
}

// TestBadArgumentSaysWhatIsWrong: an SMS that names a known command with a
// wrong argument is answered with what is wrong with the argument, not
// "unknown command", and nothing is run.
func TestBadArgumentSaysWhatIsWrong(t *testing.T) {
	for _, c := range []struct {
		text, verdict, reply string
	}{
		{"ir power 25", "rejected", badArgumentPrefix + "ir power 25: COUNT must be 1 to 20"},
		{"ir power 0", "rejected", badArgumentPrefix + "ir power 0: COUNT must be 1 to 20"},
		{"ir power 99999999999999999999", "rejected", badArgumentPrefix + "ir power 99999999999999999999: COUNT must be 1 to 20"},
		{"ir", "rejected", badArgumentPrefix + "ir needs the NAME of a code"},
		{"ussd", "rejected", badArgumentPrefix + "ussd needs a CODE"},
		{"pause", "rejected", badArgumentPrefix + "pause needs a DURATION"},
		{"what?", "rejected", unknownCommandReply},
		{"ir power 20", "executed", "ir power sent x20"},
		{"ir power thanks", "executed", "ir power sent x1"}, // a signature, not a count
	} {
		t.Run(c.text, func(t *testing.T) {
			h := newHarness(t, "mf920v", nil)
			id := h.send(owner, c.text)
			h.step()
			if got := h.decision(id); got != c.verdict {
				t.Errorf("decision %s, want %s", got, c.verdict)
			}
			r := h.replies()
			if len(r) != 1 || !strings.HasPrefix(strings.TrimPrefix(r[0], owner+": "), c.reply) {
				t.Fatalf("replies %q, want one starting %q", r, c.reply)
			}
			if c.verdict == "rejected" && len(h.ir.sent) != 0 {
				t.Errorf("ir sent %v for a rejected command", h.ir.sent)
			}
			if c.verdict == "rejected" && !smsgateReply(r[0][len(owner)+2:]) {
				t.Errorf("reply %q is not recognised as smsgate's own (forwarding loop)", r[0])
			}
		})
	}
}

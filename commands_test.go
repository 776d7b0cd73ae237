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

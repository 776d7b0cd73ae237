package main

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// subcommands are the commands `smsgate help` lists.
func subcommands(t *testing.T) []string {
	t.Helper()
	var out strings.Builder
	if err := run([]string{"help"}, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var cmds []string
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "smsgate" {
			continue
		}
		cmd := strings.Trim(f[1], "[]")
		if !seen[cmd] && !strings.HasPrefix(cmd, "-") {
			seen[cmd] = true
			cmds = append(cmds, cmd)
		}
	}
	if len(cmds) < 5 {
		t.Fatalf("help lists %d commands: %q", len(cmds), out.String())
	}
	return cmds
}

var helpFlag = regexp.MustCompile(`(?m)^  -([a-z0-9][a-z0-9-]*)`)

// flagsOf is what `smsgate CMD -h` lists.
func flagsOf(t *testing.T, cmd string) []string {
	t.Helper()
	var out strings.Builder
	run([]string{cmd, "-h"}, nil, &out, &out) // -h is an error by design
	var flags []string
	for _, m := range helpFlag.FindAllStringSubmatch(out.String(), -1) {
		flags = append(flags, m[1])
	}
	return flags
}

// everyRunFlag is the sentence by which docs/reference.md says a command
// takes every flag of `smsgate run`.
const everyRunFlag = "takes every flag of `smsgate run`"

var (
	docFlagRow    = regexp.MustCompile("(?m)^\\| `-([a-z0-9][a-z0-9-]*)")
	docCommandRow = regexp.MustCompile("(?m)^#+ `smsgate ([a-z0-9-]+)")
)

// referenceSections is docs/reference.md cut at its `smsgate CMD`
// headings, by CMD.
func referenceSections(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("docs/reference.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	sections := map[string]string{}
	locs := docCommandRow.FindAllStringSubmatchIndex(doc, -1)
	for i, l := range locs {
		end := len(doc)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		sections[doc[l[2]:l[3]]] = doc[l[0]:end]
	}
	return sections
}

// TestReferenceDocCoversHelp: docs/reference.md describes every subcommand
// (a heading `smsgate CMD`) and, under it, every flag `smsgate CMD -h` lists
// (a table row | `-flag`); it describes nothing -h does not list.
func TestReferenceDocCoversHelp(t *testing.T) {
	sections := referenceSections(t)
	for _, cmd := range subcommands(t) {
		sec, ok := sections[cmd]
		if !ok {
			t.Errorf("docs/reference.md has no heading for `smsgate %s`", cmd)
			continue
		}
		described := map[string]bool{}
		for _, m := range docFlagRow.FindAllStringSubmatch(sec, -1) {
			described[m[1]] = true
		}
		// A command that takes the daemon's flags (doctor) says so in one
		// sentence instead of a row each; its own flags still need rows.
		takesRun := cmd != "run" && strings.Contains(sec, everyRunFlag)
		runFlags := map[string]bool{}
		if takesRun {
			for _, f := range flagsOf(t, "run") {
				runFlags[f] = true
			}
		}
		listed := map[string]bool{}
		for _, f := range flagsOf(t, cmd) {
			listed[f] = true
			if !described[f] && !runFlags[f] {
				t.Errorf("smsgate %s -%s: listed by -h, not described in docs/reference.md", cmd, f)
			}
		}
		for f := range described {
			if !listed[f] {
				t.Errorf("smsgate %s -%s: described in docs/reference.md, not listed by -h", cmd, f)
			}
		}
		for f := range runFlags {
			if !listed[f] {
				t.Errorf("smsgate %s: docs/reference.md says it takes every flag of smsgate run, but -h does not list -%s", cmd, f)
			}
		}
		delete(sections, cmd)
	}
	for cmd := range sections {
		t.Errorf("docs/reference.md describes `smsgate %s`, which help does not list", cmd)
	}
}

var (
	helpFlagBlock = regexp.MustCompile(`(?m)^  -([a-z0-9][a-z0-9-]*)[^\n]*\n((?:    [^\n]*\n?)*)`)
	helpDefault   = regexp.MustCompile(`\(default (.*)\)\s*$`)
	docFlagCells  = regexp.MustCompile("(?m)^\\| `-([a-z0-9][a-z0-9-]*)[^`]*` \\| ([^|]*) \\|")
)

// TestReferenceDocDefaults: where `smsgate CMD -h` shows a default, the
// flag's row in docs/reference.md shows the same one, so the reference
// cannot drift from the binary (a default changed in code, the doc kept).
func TestReferenceDocDefaults(t *testing.T) {
	compared := 0
	for cmd, sec := range referenceSections(t) {
		documented := map[string]string{}
		for _, m := range docFlagCells.FindAllStringSubmatch(sec, -1) {
			documented[m[1]] = strings.Trim(strings.TrimSpace(m[2]), "`")
		}
		var out strings.Builder
		run([]string{cmd, "-h"}, nil, &out, &out)
		for _, m := range helpFlagBlock.FindAllStringSubmatch(out.String(), -1) {
			d := helpDefault.FindStringSubmatch(m[2])
			if d == nil {
				continue
			}
			got, ok := documented[m[1]]
			if !ok {
				continue
			}
			compared++
			if host, _ := os.Hostname(); d[1] == strconv.Quote(host) && strings.Contains(got, "host name") {
				continue // totp-new -account: the machine's own name, said in words
			}
			if got != d[1] {
				t.Errorf("smsgate %s -%s: -h says default %s, docs/reference.md says %q", cmd, m[1], d[1], got)
			}
		}
	}
	if compared < 40 {
		t.Errorf("only %d defaults compared: the -h or table format changed and this test sees nothing", compared)
	}
}

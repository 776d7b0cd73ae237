package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Command is one SMS command, an entry of commandTable or an owner's -cmd.
// SMS text never reaches a shell or an argv: it only selects an entry.
type Command struct {
	Name  string // an entry's name
	Arg   string // the IR code name
	Count int    // IR repeats
}

func (c Command) String() string {
	s := c.Name
	if c.Arg != "" {
		s += " " + c.Arg
	}
	if c.Count > 0 {
		s += " " + strconv.Itoa(c.Count)
	}
	return s
}

// Disruptive reports whether c takes the Pi, the modem or the mobile link
// away: such a command runs last in a pass, at most one per pass.
func (c Command) Disruptive() bool {
	s := builtinCommand(c.Name)
	return s != nil && s.disruptive
}

// RebootLimited reports whether c runs at most once per -reboot-interval,
// counted from boot too.
func (c Command) RebootLimited() bool {
	s := builtinCommand(c.Name)
	return s != nil && s.rebootLimited
}

// commandSpec is one entry of the command table: the only place a command
// is named. help, the parser, FuzzParseCommand and README's table
// (TestREADMECommandTable) all come from it.
type commandSpec struct {
	name  string // the words an SMS starts with, lower case, one space apart
	alias string // another spelling of the whole name ("?")
	args  string // the arguments, as README shows them
	// parse reads the words after the name; its error says what is wrong
	// with them, in the owner's words. nil: the command takes no arguments,
	// and later words are a signature.
	parse func(args []string) (Command, error)
	run   func(a *Actions, ctx context.Context, cmd Command) (reply string, after func() error, err error)
	// help is the command in the help reply; "" leaves it out. nil: the name.
	help          func(a *Actions) string
	does          string // README's "does" column
	example       string // README's example reply; "" for help, whose reply is generated
	disruptive    bool   // Pi reboot, modem reboot, modem reconnect: run last, one per pass
	rebootLimited bool   // at most once per -reboot-interval, counted from boot too
}

// maxIRCount bounds "ir NAME COUNT": enough for a volume ramp, not a stuck
// transmitter.
const maxIRCount = 20

// unknownCommandReply is the answer to an SMS that names no command.
const unknownCommandReply = "unknown command; send 'help'"

// commandTable is in the order help lists the commands. Adding a command
// is one entry here and one test of what it does: the parser, help,
// FuzzParseCommand and README's row (TestREADMECommandTable prints it) come
// from the entry. It is filled in init because help's entry lists the table.
var commandTable []commandSpec

func init() {
	commandTable = []commandSpec{
		{
			name: "status", run: (*Actions).runStatus,
			does:    "modem: network, bars, RSRP, operator, data, WAN IP, battery, SMS storage; Pi: uptime, load, CPU temperature, free memory, LAN address; DNS and TCP to `-check-host`",
			example: "LTE 4/5 -95dBm Orange, data up 100.64.12.34, bat 87%, sms 3/100 | pi up 3d4h load 0.12 48C mem 612M lan 192.168.0.100 | dns ok tcp ok",
		},
		{
			name: "ping", run: (*Actions).runPing,
			does: "the cheapest proof the path works", example: "pong, up 3h00m",
		},
		{
			name: "reboot", run: (*Actions).runReboot, disruptive: true, rebootLimited: true,
			does: "answers, then reboots the Pi (at most once per `-reboot-interval`, counted from boot too)", example: "rebooting the Pi now",
		},
		{
			name: "modem reboot", run: (*Actions).runModemReboot, disruptive: true,
			does: "answers, then reboots the hotspot", example: "rebooting the modem now; back in about a minute",
		},
		{
			name: "modem reconnect", run: (*Actions).runModemReconnect, disruptive: true,
			does:    "answers, then drops and re-dials mobile data (the outcome goes to the log and the next `status`)",
			example: "reconnecting mobile data now",
		},
		{
			name: "ir", args: "NAME [COUNT]", parse: parseIRArgs, run: (*Actions).runIR,
			help: func(a *Actions) string {
				if a.ir == nil {
					return ""
				}
				return "ir NAME [N] (" + strings.Join(a.ir.Names(), ",") + ")"
			},
			does: "sends the `-ir-code` NAME, COUNT frames (1-20; repeats follow the protocol)", example: "ir hifi-power sent x1",
		},
		{
			name: "help", alias: "?", run: func(a *Actions, _ context.Context, _ Command) (string, func() error, error) {
				return a.help(), nil, nil
			},
			does: "lists the commands",
		},
	}
	commandTable = withOwnerCommands(commandTable)
}

func builtinCommand(name string) *commandSpec {
	for i := range commandTable {
		if commandTable[i].name == name {
			return &commandTable[i]
		}
	}
	return nil
}

func parseIRArgs(args []string) (Command, error) {
	if len(args) < 1 {
		return Command{}, errors.New("ir needs the NAME of a code: ir NAME [COUNT]")
	}
	c := Command{Name: "ir", Arg: args[0], Count: 1}
	if len(args) > 1 {
		// A word that is no number is a signature ("ir power thanks"); a
		// number too large for an int is still a count, and too large.
		if n, err := strconv.Atoi(args[1]); err == nil || strings.Trim(args[1], "+-0123456789") == "" {
			if err != nil || n < 1 || n > maxIRCount {
				return Command{}, fmt.Errorf("ir %s %s: COUNT must be 1 to %d", args[0], args[1], maxIRCount)
			}
			c.Count = n
		}
	}
	return c, nil
}

// errUnknownCommand: the text names no command.
var errUnknownCommand = errors.New(unknownCommandReply)

// badArgumentPrefix starts the reply to a command with a wrong argument.
const badArgumentPrefix = "not understood: "

// parseCommand reads a built-in command from the start of text.
func parseCommand(text string) (Command, bool) {
	return parseWith(commandTable, text)
}

// parseWith reads a command of table from the start of text. Case, extra
// spaces and anything after the command (a signature) are ignored.
func parseWith(table []commandSpec, text string) (Command, bool) {
	c, err := parseExplained(table, text)
	return c, err == nil
}

// parseExplained is parseWith saying why text is no command:
// errUnknownCommand when it names none, else what is wrong with the
// arguments of the one it names.
func parseExplained(table []commandSpec, text string) (Command, error) {
	words := strings.Fields(strings.ToLower(text))
	for i := range table {
		s := &table[i]
		for _, name := range []string{s.name, s.alias} {
			if name == "" {
				continue
			}
			n := strings.Fields(name)
			if len(words) < len(n) || strings.Join(words[:len(n)], " ") != name {
				continue
			}
			if s.parse == nil {
				return Command{Name: s.name}, nil
			}
			return s.parse(words[len(n):])
		}
	}
	return Command{}, errUnknownCommand
}

// commands is the built-in table followed by the owner's -cmd programs.
func (a *Actions) commands() []commandSpec {
	if len(a.programs) == 0 {
		return commandTable
	}
	all := append([]commandSpec(nil), commandTable...)
	for _, p := range a.programs {
		all = append(all, p.spec())
	}
	return all
}

// parse reads a command, built-in or -cmd, from the start of text.
func (a *Actions) parse(text string) (Command, bool) {
	return parseWith(a.commands(), text)
}

// parseExplained is parse saying why text is no command (see
// parseExplained).
func (a *Actions) parseExplained(text string) (Command, error) {
	return parseExplained(a.commands(), text)
}

// Run executes cmd and returns the reply, plus what must happen after the
// reply is sent (a reboot cannot answer afterwards).
func (a *Actions) Run(ctx context.Context, cmd Command) (reply string, after func() error, err error) {
	for _, s := range a.commands() {
		if s.name == cmd.Name {
			return s.run(a, ctx, cmd)
		}
	}
	return "", nil, fmt.Errorf("no action for %q", cmd.Name)
}

func (a *Actions) help() string {
	var parts []string
	for _, s := range a.commands() {
		h := s.name
		if s.help != nil {
			h = s.help(a)
		}
		if h != "" {
			parts = append(parts, h)
		}
	}
	s := "smsgate: " + strings.Join(parts, " | ")
	switch a.secret {
	case secretPIN:
		s = "PIN first, e.g. 'PIN status'. " + s
	case secretTOTP:
		s = "code first, e.g. '123456 status'. " + s
	}
	return s
}

// readmeCommandRows renders the table as README's "SMS commands" rows, for
// TestREADMECommandTable. help's example is its reply with -ir-code
// hifi-power.
func readmeCommandRows() []string {
	cell := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	var rows []string
	for _, s := range commandTable {
		send := "`" + strings.TrimSpace(s.name+" "+s.args) + "`"
		if s.alias != "" {
			send += " (or `" + s.alias + "`)"
		}
		example := s.example
		if example == "" {
			example = (&Actions{ir: namesOnlyIR{"hifi-power"}}).help()
		}
		rows = append(rows, fmt.Sprintf("| %s | %s | `%s` |", send, cell(s.does), cell(example)))
	}
	if _, err := parseExplained(commandTable, "ir hifi-power 25"); err != nil {
		rows = append(rows, fmt.Sprintf("| a command with a wrong argument | what is wrong | `%s%s` |", badArgumentPrefix, cell(err.Error())))
	}
	rows = append(rows, fmt.Sprintf("| anything else | a hint | `%s` |", unknownCommandReply))
	return rows
}

// namesOnlyIR lists IR code names and sends nothing.
type namesOnlyIR []string

func (n namesOnlyIR) Names() []string { return n }
func (namesOnlyIR) Send(context.Context, string, int) error {
	return errors.New("ir: names only")
}

// secretKind is what must start every command.
type secretKind int

const (
	secretNone secretKind = iota
	secretPIN
	secretTOTP
)

func (k secretKind) String() string { return [...]string{"none", "PIN", "code"}[k] }

// secret is what must start every command.
func (c GatewayConfig) secret() secretKind {
	switch {
	case c.TOTP != nil:
		return secretTOTP
	case c.PIN != "":
		return secretPIN
	}
	return secretNone
}

var errPINWrong = errors.New("wrong PIN")

// checkSecret checks the PIN or the one-time code that starts m and
// returns the rest of its text. A code is checked against the SMS's
// network date and the Pi's clock at now, and is good for one message:
// st remembers which.
func (g *Gateway) checkSecret(st *State, m SMS, now time.Time) (string, error) {
	if g.cfg.TOTP != nil {
		return g.cfg.TOTP.check(m.Text, strconv.FormatInt(m.ID, 10)+"|"+fingerprint(m), m.Time, now, st.TOTPUsed)
	}
	rest, ok := stripPIN(m.Text, g.cfg.PIN)
	if !ok {
		return "", errPINWrong
	}
	return rest, nil
}

// stripPIN checks that text starts with pin, in constant time, and returns
// the rest.
func stripPIN(text, pin string) (string, bool) {
	word, rest := firstWord(text)
	if subtle.ConstantTimeCompare([]byte(word), []byte(pin)) != 1 {
		return "", false
	}
	return rest, true
}

// firstWord splits off the first word; any white space, a newline
// included, ends it.
func firstWord(text string) (word, rest string) {
	text = strings.TrimSpace(text)
	if i := strings.IndexFunc(text, unicode.IsSpace); i >= 0 {
		return text[:i], strings.TrimSpace(text[i:])
	}
	return text, ""
}

package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// flags is one command's flag set with what its help shows.
type flags struct {
	*flag.FlagSet
	synopsis string // "invoices show ID"
	about    string // what the command does, for -h
}

// newFlags starts the flags of a command. The flag package prints nothing:
// parse reports errors and help itself, help on stdout.
func newFlags(synopsis, about string) *flags {
	name, _, _ := strings.Cut(synopsis, " [")
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flags{FlagSet: fs, synopsis: synopsis, about: about}
}

// parse reads args, flags and positional arguments in any order (`payments
// record INV --amount 5` and `payments record --amount 5 INV`), and checks
// that exactly the named positional arguments are there.
func (s *session) parse(f *flags, args []string, names ...string) ([]string, error) {
	var pos []string
	for {
		err := f.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			s.help(f)
			return nil, errHelp
		}
		if err != nil {
			return nil, s.badUsage(f, err.Error())
		}
		rest := f.Args()
		if len(rest) == 0 {
			break
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			// After "--" everything is positional.
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	switch {
	case len(pos) < len(names):
		return nil, s.badUsage(f, "missing "+strings.Join(names[len(pos):], " "))
	case len(pos) > len(names):
		return nil, s.badUsage(f, fmt.Sprintf("unexpected argument %q", pos[len(names)]))
	}
	return pos, nil
}

// help prints a command's help on stdout.
func (s *session) help(f *flags) {
	fmt.Fprintf(s.stdout, "usage: reconciler admin %s\n\n%s\n", f.synopsis, f.about)
	hasFlags := false
	f.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		fmt.Fprintln(s.stdout, "\nflags:")
		f.SetOutput(s.stdout)
		f.PrintDefaults()
		f.SetOutput(io.Discard)
	}
	fmt.Fprintln(s.stdout, "\nglobal flags: --json (print the API's JSON answer), --url URL (the admin API)")
}

// badUsage is a usage error that also shows the command's synopsis.
func (s *session) badUsage(f *flags, msg string) error {
	return usageErrorf("%s\nusage: reconciler admin %s (-h for help)", msg, f.synopsis)
}

// checkDate refuses a date flag that is set and not YYYY-MM-DD.
func checkDate(name, value string) error {
	if value == "" {
		return nil
	}
	if _, err := time.Parse(time.DateOnly, value); err != nil {
		return usageErrorf("--%s %q: want a date YYYY-MM-DD", name, value)
	}
	return nil
}

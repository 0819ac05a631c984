// Package cli is the operator's command line over the admin HTTP API:
// `reconciler admin invoices list`, `reconciler admin payments record ...`.
// It speaks only the contract (API.md), so it works against any deployment.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Exit codes of Run.
const (
	exitOK    = 0
	exitError = 1 // the API refused, a job failed, the server was unreachable
	exitUsage = 2 // the command line (or its environment) is wrong
)

// session is one run of the CLI: where to send requests and how to print.
type session struct {
	ctx    context.Context
	api    *client
	json   bool
	stdout io.Writer
	stderr io.Writer
}

// command is one leaf of the command tree, such as "payments record".
type command struct {
	name    string
	summary string
	run     func(s *session, args []string) error
}

// commands lists every command; the first word groups them.
var commands = []command{
	{"invoices list", "list invoices, newest first", invoicesList},
	{"invoices show", "show an invoice with its payments and history", invoicesShow},
	{"invoices create", "create a draft invoice", invoicesCreate},
	{"invoices send", "mark an invoice sent", invoicesSend},
	{"invoices delete", "delete an invoice that has no money on it", invoicesDelete},
	{"payments record", "record a manual payment (queues a job)", paymentsRecord},
	{"payments delete", "delete a manual payment (queues a job)", paymentsDelete},
	{"credit-notes create", "lower what an invoice is due by a credit note (queues a job)", creditNotesCreate},
	{"credit-notes reverse", "reverse a credit note (queues a job)", creditNotesReverse},
	{"write-off", "write off an invoice's balance (queues a job)", writeOff},
	{"reopen", "reverse a write-off (queues a job)", reopen},
	{"jobs list", "list operators' jobs, newest first", jobsList},
	{"jobs show", "show a job", jobsShow},
	{"events list", "list received Stripe events", eventsList},
	{"reconcile", "start a reconciliation run (queues a job)", reconcileRun},
	{"report summary", "money per currency over a date range", reportSummary},
	{"endpoints add", "subscribe a URL to invoice notifications", endpointsAdd},
	{"endpoints list", "list notification endpoints", endpointsList},
	{"endpoints delete", "delete a notification endpoint", endpointsDelete},
	{"endpoints deliveries", "list an endpoint's deliveries", deliveriesList},
	{"deliveries resend", "queue one more attempt at a delivery", deliveriesResend},
}

// Run runs `reconciler admin ARGS...` and returns the exit code: 0, 1 when
// the API refuses or a job fails, 2 for a wrong command line. getenv reads
// RECONCILER_URL (default http://localhost:$PORT, or http://localhost:8080)
// and ADMIN_TOKEN. Anywhere in args, --json prints the API's JSON answers
// instead of tables and --url URL overrides RECONCILER_URL.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	args, g, err := globals(args)
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return exitUsage
	}
	base := g.url
	if base == "" {
		base = getenv("RECONCILER_URL")
	}
	if base == "" {
		port := getenv("PORT")
		if port == "" {
			port = "8080"
		}
		base = "http://localhost:" + port
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fmt.Fprintf(stderr, "error: admin API URL %q: want http(s)://host[:port]\n", base)
		return exitUsage
	}
	s := &session{
		ctx: ctx,
		api: &client{
			base:  strings.TrimRight(base, "/"),
			token: getenv("ADMIN_TOKEN"),
			http:  &http.Client{},
		},
		json:   g.json,
		stdout: stdout,
		stderr: stderr,
	}
	return s.exit(s.dispatch(args))
}

// globalFlags are the flags valid anywhere on the line.
type globalFlags struct {
	json bool
	url  string
}

// globals takes --json and --url out of args, wherever they are (up to a
// "--"), so that `invoices list --json` and `--json invoices list` agree.
func globals(args []string) ([]string, globalFlags, error) {
	var g globalFlags
	rest := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		if !strings.HasPrefix(a, "-") {
			rest = append(rest, a)
			continue
		}
		// One dash or two, as the flag package takes them.
		name, value, hasValue := strings.Cut(strings.TrimPrefix(a[1:], "-"), "=")
		switch name {
		case "json":
			switch {
			case !hasValue || value == "true":
				g.json = true
			case value == "false":
				g.json = false
			default:
				return nil, g, fmt.Errorf("--json=%s: want true or false", value)
			}
		case "url":
			if !hasValue {
				if i+1 == len(args) {
					return nil, g, errors.New("--url needs a value")
				}
				i++
				value = args[i]
			}
			g.url = value
		default:
			rest = append(rest, a)
		}
	}
	return rest, g, nil
}

// dispatch finds the command named by the first words of args and runs it.
func (s *session) dispatch(args []string) error {
	if len(args) == 0 {
		s.usage(s.stderr, "")
		return errUsageShown
	}
	if isHelp(args[0]) || args[0] == "help" {
		s.usage(s.stdout, "")
		return errHelp
	}
	for _, c := range commands {
		words := strings.Fields(c.name)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == c.name {
			return c.run(s, args[len(words):])
		}
	}
	group := args[0]
	for _, c := range commands {
		if strings.HasPrefix(c.name, group+" ") {
			if len(args) > 1 && isHelp(args[1]) {
				s.usage(s.stdout, group)
				return errHelp
			}
			s.usage(s.stderr, group)
			if len(args) == 1 {
				return errUsageShown
			}
			return usageErrorf("unknown command %q", group+" "+args[1])
		}
	}
	s.usage(s.stderr, "")
	return usageErrorf("unknown command %q", group)
}

func isHelp(a string) bool { return a == "-h" || a == "--help" || a == "-help" }

// usage lists the commands (of one group, when group is not empty).
func (s *session) usage(w io.Writer, group string) {
	fmt.Fprintln(w, "usage: reconciler admin [--json] [--url URL] COMMAND [ARGS...]")
	fmt.Fprintln(w, "\ncommands:")
	t := newTable(w)
	for _, c := range commands {
		if group == "" || strings.HasPrefix(c.name, group+" ") {
			t.row("  "+c.name, c.summary)
		}
	}
	t.flush()
	fmt.Fprintln(w, "\nRun a command with -h for its flags. Environment: RECONCILER_URL (default")
	fmt.Fprintln(w, "http://localhost:$PORT or http://localhost:8080) and ADMIN_TOKEN (required).")
}

// errHelp ends a run that printed the help asked for: exit 0.
var errHelp = errors.New("help shown")

// errUsageShown ends a run whose usage message is already printed: exit 2.
var errUsageShown = errors.New("usage shown")

// usageError is a wrong command line: exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// jobFailedError is a job that ended failed: exit 1.
type jobFailedError struct{ job job }

func (e *jobFailedError) Error() string {
	return fmt.Sprintf("job %s failed: %s", e.job.ID, e.job.Error)
}

// exit prints err as the contract's code and message, or as it is, and
// returns the exit code for it.
func (s *session) exit(err error) int {
	var apiErr *APIError
	var usage *usageError
	switch {
	case err == nil, errors.Is(err, errHelp):
		return exitOK
	case errors.Is(err, errUsageShown):
		return exitUsage
	case errors.As(err, &usage):
		fmt.Fprintf(s.stderr, "error: %v\n", usage)
		return exitUsage
	case errors.As(err, &apiErr):
		fmt.Fprintf(s.stderr, "error: %s: %s\n", apiErr.Code, apiErr.Message)
		return exitError
	}
	fmt.Fprintf(s.stderr, "error: %v\n", err)
	return exitError
}

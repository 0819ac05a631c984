package reconcile

import (
	"errors"
	"fmt"
)

// ErrorKind says how a refusal should be answered: the HTTP layers map each
// kind to one status, without looking at messages.
type ErrorKind int

// The kinds of ledger error.
const (
	// KindInvalid: the request itself is wrong (a bad field).
	KindInvalid ErrorKind = iota + 1
	// KindNotFound: no such invoice, payment, job or event.
	KindNotFound
	// KindConflict: not allowed in the invoice's current state.
	KindConflict
	// KindRefused: well-formed, but the ledger's rules refuse it.
	KindRefused
)

// Error is a refusal by the ledger, with a machine code such as
// "invoice_not_sent" and a message for people.
type Error struct {
	Kind    ErrorKind
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf makes an *Error.
func Errorf(kind ErrorKind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// AsError returns the ledger refusal inside err, if there is one. Anything
// else is a fault (a database down, a bug) that may succeed on retry.
func AsError(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

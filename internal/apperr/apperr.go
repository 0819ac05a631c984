// Package apperr is the refusal every layer shares: a machine code such as
// "invoice_not_sent", a message for people, and a kind the HTTP edges map
// to one status each, without looking at messages. Anything that is not an
// *Error is a fault (a database down, a bug) that may succeed on retry.
package apperr

import (
	"errors"
	"fmt"
)

// Kind says how a refusal should be answered.
type Kind int

// The kinds of refusal.
const (
	// KindInvalid: the request itself is wrong (a bad field).
	KindInvalid Kind = iota + 1
	// KindNotFound: no such invoice, payment, job or event.
	KindNotFound
	// KindConflict: not allowed in the invoice's current state.
	KindConflict
	// KindRefused: well-formed, but the ledger's rules refuse it.
	KindRefused
)

// Error is a refusal, with a machine code and a message for people.
type Error struct {
	Kind    Kind
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf makes an *Error.
func Errorf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// As returns the refusal inside err, if there is one.
func As(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// Package textcheck says whether text from outside can be stored.
package textcheck

import (
	"strings"
	"unicode/utf8"
)

// MaxNotes is the longest notes an operator may attach to anything (a
// payment, a write-off, a resolution), in characters.
const MaxNotes = 2000

// Valid reports whether s can be stored as text of at most max characters:
// valid UTF-8 without NUL, which PostgreSQL's text and jsonb refuse.
func Valid(s string, max int) bool {
	return utf8.ValidString(s) && utf8.RuneCountInString(s) <= max && !strings.ContainsRune(s, 0)
}

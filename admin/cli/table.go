package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode"
)

// table writes aligned columns; Flush writes them out.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, header ...string) *table {
	t := &table{tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	if len(header) > 0 {
		t.row(header...)
	}
	return t
}

// row writes one line; cells are cleaned so that a client name cannot break
// the columns or send escape sequences to the terminal.
func (t *table) row(cells ...string) {
	for i, c := range cells {
		cells[i] = cell(c)
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() { _ = t.tw.Flush() }

// cell replaces control characters (tabs, newlines, ESC) with spaces, and
// shows an empty value as "-".
func cell(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if s == "" {
		return "-"
	}
	return s
}

// str is *s, or "" for nil.
func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// money shows an amount with its currency: "12.50 usd".
func money(minor int64, currency string) string {
	return FormatAmount(minor, currency) + " " + currency
}

// writeJSON prints an answer as it came, indented for reading.
func writeJSON(w io.Writer, raw []byte) {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		b.Reset()
		b.Write(raw)
	}
	b.WriteByte('\n')
	_, _ = w.Write(b.Bytes())
}

package admin

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// CheckParams refuses a request whose path parameters or query hold what no
// id or filter can: a NUL byte or invalid UTF-8. PostgreSQL refuses both in
// text, so such a request would otherwise reach a query and end as a 500;
// it is a 400 naming the parameter, before any route runs. pattern is the
// ServeMux pattern the request matched (as http.ServeMux.Handler returns
// it), which names the path's parameters. The bad value is never echoed.
// The operator console checks its requests with it too.
func CheckParams(r *http.Request, pattern string) error {
	if name, ok := badPathParam(r.URL.EscapedPath(), pattern); !ok {
		return invalid("invalid_parameter", "path parameter "+name+" must be UTF-8 text without NUL bytes")
	}
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return invalid("invalid_parameter", "the query string is not valid URL encoding")
	}
	for name, values := range query {
		if !validParam(name) {
			return invalid("invalid_parameter", "query parameter names must be UTF-8 text without NUL bytes")
		}
		for _, v := range values {
			if !validParam(v) {
				return invalid("invalid_parameter", fmt.Sprintf("query parameter %s must be UTF-8 text without NUL bytes", name))
			}
		}
	}
	return nil
}

// badPathParam finds the first path segment that is not valid text and
// names it after the pattern's wildcard in its place ("id", "payment_id"),
// or "segment N" where the pattern has none. ok is true when every segment
// is valid.
func badPathParam(escapedPath, pattern string) (name string, ok bool) {
	_, patternPath, found := strings.Cut(pattern, " ")
	if !found {
		patternPath = pattern
	}
	wildcards := strings.Split(strings.TrimPrefix(patternPath, "/"), "/")
	for i, raw := range strings.Split(strings.TrimPrefix(escapedPath, "/"), "/") {
		seg, err := url.PathUnescape(raw)
		if err == nil && validParam(seg) {
			continue
		}
		name = fmt.Sprintf("segment %d", i+1)
		if i < len(wildcards) {
			if w, isWild := strings.CutPrefix(wildcards[i], "{"); isWild {
				name = strings.TrimSuffix(strings.TrimSuffix(w, "}"), "...")
			}
		}
		return name, false
	}
	return "", true
}

// validParam reports whether s can be an id or a filter: UTF-8 without NUL.
func validParam(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// Package form holds one type per console form: each parses its request and validates it,
// returning the errors the page shows next to the fields, so validation lives in one place.
package form

import (
	"net/http"
	"strings"
	"unicode/utf8"
)

// Errors maps a field name to the message shown next to it ("" key: the form as a whole).
type Errors map[string]string

// Translate turns a catalog key of the console ("compose.err.text") and its arguments into
// the person's language.
type Translate func(key string, args ...string) string

func field(r *http.Request, name string) string {
	v := strings.TrimSpace(r.PostFormValue(name))
	if !utf8.ValidString(v) {
		return strings.ToValidUTF8(v, "")
	}
	return v
}

// list returns every value of a repeated field (checkboxes), trimmed, without empties.
func list(r *http.Request, name string) []string {
	var out []string
	for _, v := range r.PostForm[name] {
		if v = strings.TrimSpace(v); v != "" && utf8.ValidString(v) {
			out = append(out, v)
		}
	}
	return out
}

package nlu

import (
	"regexp"
	"strconv"
	"strings"
)

// Application codes are recognised only when they look like the department's codes: a word
// with letters and digits ("GIO72", "COVID19", "IPHONE15") is not sent to the status check
// unless it has the shape of the codes imported into the read model (the leading letters and
// the length: "TB-2025-000123" is "TB#10"), or matches the configured pattern
// (APPLICATION_CODE_PATTERN). With neither known (nothing imported yet), any word of letters and
// digits that is not an amount, an age or a legal reference may be a code.

// codeMatcher is what codes look like, replaced as a whole when the imports change it.
type codeMatcher struct {
	pattern *regexp.Regexp
	shapes  map[string]bool
}

// SetCodeShapes tells the classifier the shapes of the imported codes (lookup.CodeShape: "TB#10").
// Safe to call while classifying; an empty list keeps only the general rule.
func (c *Classifier) SetCodeShapes(shapes []string) {
	old := c.codes.Load()
	m := &codeMatcher{shapes: map[string]bool{}}
	if old != nil {
		m.pattern = old.pattern
	}
	for _, s := range shapes {
		m.shapes[strings.ToUpper(s)] = true
	}
	c.codes.Store(m)
}

// SetCodePattern sets the pattern codes match (a regular expression matched whole, already
// anchored and case-insensitive as config.Load compiles APPLICATION_CODE_PATTERN); nil removes it.
func (c *Classifier) SetCodePattern(re *regexp.Regexp) {
	old := c.codes.Load()
	m := &codeMatcher{pattern: re, shapes: map[string]bool{}}
	if old != nil {
		m.shapes = old.shapes
	}
	c.codes.Store(m)
}

// isCode reports whether a normalized token is an application code.
func (c *Classifier) isCode(t string) bool {
	return isCodeWith(c.codes.Load(), t)
}

func isCodeWith(m *codeMatcher, t string) bool {
	if !looksLikeCode(t) {
		return false
	}
	switch {
	case m == nil:
		return true
	case m.pattern != nil:
		return m.pattern.MatchString(t)
	case len(m.shapes) > 0:
		return m.shapes[codeShape(t)]
	}
	return true
}

// codeShape is lookup.CodeShape of a normalized token: leading letters (upper case) of the code
// without - . / and the number of characters after them.
func codeShape(t string) string {
	var b strings.Builder
	for i := 0; i < len(t); i++ {
		switch c := t[i]; {
		case c >= 'a' && c <= 'z':
			b.WriteByte(c - 'a' + 'A')
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			b.WriteByte(c)
		}
	}
	k := b.String()
	i := 0
	for i < len(k) && k[i] >= 'A' && k[i] <= 'Z' {
		i++
	}
	return k[:i] + "#" + strconv.Itoa(len(k)-i)
}

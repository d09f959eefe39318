package nlu

import (
	"strings"

	"github.com/socialaid-vn/gateway/i18n"
)

// EntityOtherScheme names the neighbouring scheme (knowledge/other_schemes.toml) an
// out-of-scope message is about: "nguoi_co_cong", "bhxh", ...
const EntityOtherScheme = "other_scheme"

// Scheme is a neighbouring scheme as the understanding needs it: decisive words make a message
// about it (out_of_scope, whatever the model says); words name it in an out-of-scope message.
type Scheme struct {
	ID       string
	Decisive []string
	Words    []string
}

// schemeIndex matches scheme words as whole folded words, indexed by their first word.
type schemeIndex struct {
	decisive, words map[string][]phrase
}

type phrase struct {
	words []string
	id    string
}

func newSchemeIndex(schemes []Scheme) *schemeIndex {
	ix := &schemeIndex{decisive: map[string][]phrase{}, words: map[string][]phrase{}}
	add := func(m map[string][]phrase, id string, ws []string) {
		for _, w := range ws {
			if f := strings.Fields(i18n.Key(w)); len(f) > 0 {
				m[f[0]] = append(m[f[0]], phrase{words: f, id: id})
			}
		}
	}
	for _, s := range schemes {
		add(ix.decisive, s.ID, s.Decisive)
		add(ix.words, s.ID, s.Words)
	}
	return ix
}

// negations before a scheme word cancel it ("không phải thương binh", "chưa có lương hưu").
var negations = map[string]bool{"khong": true, "ko": true, "k": true, "kg": true, "chua": true, "chang": true, "cha": true, "not": true, "no": true, "without": true}

// match returns the scheme of the first phrase of index found in tok, not negated.
func match(index map[string][]phrase, tok []string) (string, bool) {
	if len(index) == 0 {
		return "", false
	}
	for i := range tok {
		for _, p := range index[tok[i]] {
			if i+len(p.words) > len(tok) || !equalWords(tok[i:i+len(p.words)], p.words) {
				continue
			}
			negated := false
			for j := max(0, i-3); j < i; j++ {
				negated = negated || negations[tok[j]]
			}
			if !negated {
				return p.id, true
			}
		}
	}
	return "", false
}

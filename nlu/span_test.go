package nlu

import (
	"path/filepath"
	"testing"
)

// The words of each clause are the span of the whole message's words tokenCount says.
func TestClauseSpansMatchNormalisation(t *testing.T) {
	c := classifier(t)
	items := readLabelled(t, filepath.Join("testdata", "heldout.jsonl"))
	w := benchWrappers(t)
	texts := []string{"TB-2025-000123, 4567. Cảm ơn", "mức 1.000.000 đ/tháng, được không?", "a…b; c\nd", "1,5 triệu: ok"}
	for _, it := range items {
		texts = append(texts, w.wrap(it.Text, 1)...)
	}
	whole, one := newWork(len(Intents)), newWork(len(Intents))
	for _, s := range texts {
		cls := splitClauses(s)
		if cls == nil {
			continue
		}
		c.text.prepare(whole, s)
		at := 0
		for _, cl := range cls {
			c.text.prepare(one, cl)
			n := tokenCount(cl)
			if n != len(one.keyTok) || at+n > len(whole.keyTok) || !equalWords(whole.keyTok[at:at+n], one.keyTok) {
				t.Errorf("%q: clause %q: tokenCount %d, words %v, whole %v", s, cl, n, one.keyTok, whole.keyTok)
				break
			}
			at += n
		}
	}
}

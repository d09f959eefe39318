package nlu

import (
	"strings"
	"testing"
	"testing/fstest"
)

// The same training data gives the very same trained regressions (reused, not trained again);
// one changed example gives new ones that know it.
func TestTrainingIsReusedForTheSameDataOnly(t *testing.T) {
	files := func(extra string) fstest.MapFS {
		var b strings.Builder
		for _, in := range Intents {
			b.WriteString(`{"text":"vi du ` + in + `","intent":"` + in + `"}` + "\n")
		}
		b.WriteString(extra)
		return fstest.MapFS{"nlu/a.jsonl": {Data: []byte(b.String())}}
	}
	load := func(fs fstest.MapFS) *Classifier {
		t.Helper()
		c, err := Load(fs, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := load(files("")), load(files(""))
	for i := range a.model.members {
		if a.model.members[i] != b.model.members[i] {
			t.Errorf("member %d trained again for the same data", i)
		}
	}
	c := load(files(`{"text":"con voi mau xanh la cay","intent":"complaint"}` + "\n"))
	if c.model.members[0] == a.model.members[0] {
		t.Fatal("other data got the regression of the first")
	}
	if got := c.Classify("con voi mau xanh la cay").Intent; got != "complaint" {
		t.Errorf("the new example reads as %q", got)
	}
}

package nlu

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/socialaid-vn/gateway/data"
	"github.com/socialaid-vn/gateway/i18n"
)

// wrapperSet is a file of openers, context sentences and closers.
type wrapperSet struct {
	Openers  []string `toml:"openers"`
	Contexts []string `toml:"contexts"`
	Closers  []string `toml:"closers"`
}

func readWrappers(t testing.TB, raw []byte) wrapperSet {
	t.Helper()
	var w wrapperSet
	if _, err := toml.Decode(string(raw), &w); err != nil {
		t.Fatal(err)
	}
	return w
}

// benchWrappers are the held-out wrappers of the robustness benchmark.
func benchWrappers(t testing.TB) wrapperSet {
	raw, err := os.ReadFile(filepath.Join("testdata", "robustness_wrappers.toml"))
	if err != nil {
		t.Fatal(err)
	}
	return readWrappers(t, raw)
}

// wrap returns the wrapped forms of a question: each opener before it, each context sentence
// before it, each closer after it, and three combinations (opener + context, context + closer,
// opener + closer), the combinations cycling through the lists.
func (w wrapperSet) wrap(q string, n int) []string {
	var out []string
	for _, o := range w.Openers {
		out = append(out, o+" "+q)
	}
	for _, c := range w.Contexts {
		out = append(out, c+" "+q)
	}
	for _, c := range w.Closers {
		out = append(out, q+" "+c)
	}
	o, c, cl := w.Openers[n%len(w.Openers)], w.Contexts[n%len(w.Contexts)], w.Closers[n%len(w.Closers)]
	out = append(out, o+" "+c+" "+q, c+" "+q+" "+cl, o+" "+q+" "+cl)
	return out
}

// robustnessFigures is the outcome of the benchmark.
type robustnessFigures struct {
	questions, wrapped, changed, wrong int
	changedTo                          map[string]int
}

// runRobustness wraps every in-scope question of items (every intent except out_of_scope,
// greeting and thanks, which are not questions) and counts the wrapped forms whose intent differs
// from the intent of the bare question.
func runRobustness(c *Classifier, items []labelled, w wrapperSet) robustnessFigures {
	f := robustnessFigures{changedTo: map[string]int{}}
	for _, it := range items {
		if it.Intent == OutOfScope || it.Intent == "greeting" || it.Intent == "thanks" {
			continue
		}
		bare := c.Classify(it.Text).Intent
		f.questions++
		for _, v := range w.wrap(it.Text, f.questions) {
			f.wrapped++
			got := c.Classify(v).Intent
			if got != bare {
				f.changed++
				f.changedTo[bare+" → "+got]++
			}
			if got != it.Intent {
				f.wrong++
			}
		}
	}
	return f
}

func (f robustnessFigures) String() string {
	var pairs []string
	for k, n := range f.changedTo {
		pairs = append(pairs, fmt.Sprintf("%d %s", n, k))
	}
	slices.Sort(pairs)
	return fmt.Sprintf("%d questions, %d wrapped forms: intent changed %d (%.2f%%), wrong label %d (%.2f%%); changes: %s",
		f.questions, f.wrapped, f.changed, 100*float64(f.changed)/float64(f.wrapped), f.wrong,
		100*float64(f.wrong)/float64(f.wrapped), strings.Join(pairs, ", "))
}

// TestRobustnessToWrapping is the robustness benchmark: the dev set's in-scope questions with
// held-out openers, context sentences and closers around them; at most 3% may change intent.
func TestRobustnessToWrapping(t *testing.T) {
	path := filepath.Join(repoRoot(t), "..", "shared", "nlu", "dev.jsonl")
	if _, err := os.Stat(path); err != nil && os.Getenv("CI") == "" {
		t.Skipf("evaluation set %s not found: place the project's shared/ folder beside the repository", path)
	}
	c := classifier(t)
	f := runRobustness(c, readLabelled(t, path), benchWrappers(t))
	t.Logf("robustness (dev.jsonl): %v", f)
	if share := float64(f.changed) / float64(f.wrapped); share > 0.03 {
		t.Errorf("%.2f%% of wrapped questions change intent, want ≤ 3%%", 100*share)
	}
}

// The same benchmark on the project's own held-out questions, which a lone clone also has.
func TestRobustnessOnHeldout(t *testing.T) {
	c := classifier(t)
	items := readLabelled(t, filepath.Join("testdata", "heldout.jsonl"))
	f := runRobustness(c, items, benchWrappers(t))
	t.Logf("robustness (heldout.jsonl): %v", f)
	if share := float64(f.changed) / float64(f.wrapped); share > 0.05 {
		t.Errorf("%.2f%% of wrapped held-out questions change intent, want ≤ 5%%", 100*share)
	}
}

// The benchmark's wrappers are held out: no sentence of them, nor one sharing most of its
// words, is among the training wrappers.
func TestWrapperSetsAreDisjoint(t *testing.T) {
	raw, err := fs.ReadFile(data.Embedded(), "nlu/wrappers.toml")
	if err != nil {
		t.Fatal(err)
	}
	train, bench := readWrappers(t, raw), benchWrappers(t)
	raw2, err := os.ReadFile(filepath.Join("testdata", "robustness_wrappers_2.toml"))
	if err != nil {
		t.Fatal(err)
	}
	second := readWrappers(t, raw2)
	bench.Openers = append(bench.Openers, second.Openers...)
	bench.Contexts = append(bench.Contexts, second.Contexts...)
	bench.Closers = append(bench.Closers, second.Closers...)
	all := func(w wrapperSet) []string { return slices.Concat(w.Openers, w.Contexts, w.Closers) }
	words := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, w := range strings.Fields(i18n.Key(s)) {
			m[w] = true
		}
		return m
	}
	for _, b := range all(bench) {
		bw := words(b)
		for _, tr := range all(train) {
			tw := words(tr)
			shared := 0
			for w := range bw {
				if tw[w] {
					shared++
				}
			}
			if i18n.Key(b) == i18n.Key(tr) || len(bw) >= 3 && shared*4 >= len(bw)*3 {
				t.Errorf("benchmark wrapper %q is too close to training wrapper %q", b, tr)
			}
		}
	}
	if len(bench.Openers) < 6 || len(bench.Contexts) < 5 || len(bench.Closers) < 5 {
		t.Errorf("benchmark wrappers too few: %d openers, %d contexts, %d closers", len(bench.Openers), len(bench.Contexts), len(bench.Closers))
	}
}

// TestRobustnessSecondSet is the benchmark with a second held-out set of wrappers, written after
// the understanding was built and never studied for its mistakes: an independent check of the
// first figure.
func TestRobustnessSecondSet(t *testing.T) {
	path := filepath.Join(repoRoot(t), "..", "shared", "nlu", "dev.jsonl")
	if _, err := os.Stat(path); err != nil && os.Getenv("CI") == "" {
		t.Skipf("evaluation set %s not found: place the project's shared/ folder beside the repository", path)
	}
	raw, err := os.ReadFile(filepath.Join("testdata", "robustness_wrappers_2.toml"))
	if err != nil {
		t.Fatal(err)
	}
	f := runRobustness(classifier(t), readLabelled(t, path), readWrappers(t, raw))
	t.Logf("robustness, second wrapper set (dev.jsonl): %v", f)
	if share := float64(f.changed) / float64(f.wrapped); share > 0.05 {
		t.Errorf("%.2f%% of wrapped questions change intent with the second wrapper set, want ≤ 5%%", 100*share)
	}
}

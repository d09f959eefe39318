package nlu

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"strings"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

// WrappersFile holds the politeness and context sentences training examples are wrapped in.
const WrappersFile = "nlu/wrappers.toml"

// wrappers are the sentences people put around a question (data file nlu/wrappers.toml).
type wrappers struct {
	Openers  []string `toml:"openers"`
	Contexts []string `toml:"contexts"`
	Closers  []string `toml:"closers"`
}

// loadWrappers reads nlu/wrappers.toml; a missing file means no augmentation. Errors name the
// file and line.
func loadWrappers(fsys fs.FS) (wrappers, error) {
	var w wrappers
	raw, err := fs.ReadFile(fsys, WrappersFile)
	if errors.Is(err, fs.ErrNotExist) {
		return w, nil
	}
	if err != nil {
		return w, fmt.Errorf("nlu: %w", err)
	}
	if !utf8.Valid(raw) {
		return w, fmt.Errorf("nlu: %s: not UTF-8 text", WrappersFile)
	}
	md, err := toml.Decode(string(raw), &w)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return w, fmt.Errorf("nlu: %s:%d: %s", WrappersFile, pe.Position.Line, pe.Message)
		}
		return w, fmt.Errorf("nlu: %s: %v", WrappersFile, err)
	}
	if keys := md.Undecoded(); len(keys) > 0 {
		return w, fmt.Errorf("nlu: %s:%d: unknown key %q (openers, contexts, closers)", WrappersFile, lineOf(string(raw), keys[0].String()), keys[0].String())
	}
	for _, list := range [][]string{w.Openers, w.Contexts, w.Closers} {
		for _, s := range list {
			if strings.TrimSpace(s) == "" {
				return w, fmt.Errorf("nlu: %s:%d: empty sentence", WrappersFile, lineOf(string(raw), `""`))
			}
		}
	}
	return w, nil
}

// lineOf is the 1-based line of the first occurrence of s in raw, or 0.
func lineOf(raw, s string) int {
	i := strings.Index(raw, s)
	if i < 0 {
		return 0
	}
	return strings.Count(raw[:i], "\n") + 1
}

// notWrapped are the intents whose examples are not wrapped: social messages, which an opener or
// a closer would not leave as they are.
var notWrapped = map[int]bool{intentIndex["greeting"]: true, intentIndex["thanks"]: true}

// Weights of the wrapped copies in training. A closer is learnt more lightly: most closers are
// peeled off at reading time, and a "cảm ơn" learnt with every intent would stop meaning thanks.
const (
	wrapWeight    = 1.0
	contextWeight = 1.0
	closerWeight  = 0.2
)

// augment adds, for every example that is a question, the same question after an opener, after
// a context sentence, and before a closer (each picked at random, deterministically), with the
// example's intent: what is asked does not change with what is said around it.
func augment(examples []example, w wrappers) []example {
	if len(w.Openers)+len(w.Contexts)+len(w.Closers) == 0 {
		return examples
	}
	rng := rand.New(rand.NewPCG(3, 4))
	out := make([]example, 0, 4*len(examples))
	out = append(out, examples...)
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
	for _, e := range examples {
		if notWrapped[e.label] {
			continue
		}
		if len(w.Openers) > 0 {
			out = append(out, example{text: pick(w.Openers) + " " + e.text, label: e.label, weight: wrapWeight})
		}
		if len(w.Contexts) > 0 {
			out = append(out, example{text: pick(w.Contexts) + " " + e.text, label: e.label, weight: contextWeight})
		}
		if len(w.Closers) > 0 {
			out = append(out, example{text: e.text + " " + pick(w.Closers), label: e.label, weight: closerWeight})
		}
	}
	return out
}

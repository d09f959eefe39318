package nlu

import (
	"math"
	"math/rand/v2"
	"sync"
)

// Feature weights: word features (unigrams, bigrams, first word) and character 3-grams are each
// scaled to unit length, then the character group by charWeight.
const (
	charWeight = 0.6
	epochs     = 18
	learnRate  = 0.5
	l2         = 1e-6
)

// model is a pair of multinomial logistic regressions over hashed sparse features whose
// probabilities are averaged (see train).
type model struct {
	k       int           // classes
	index   *featureTable // feature hash → row
	members []*member
}

// wrappedWeight is the weight of the regression trained on wrapped examples in the average.
const wrappedWeight = 2.0

// member is one logistic regression of the ensemble.
type member struct {
	w    []float32 // rows of k weights
	bias []float64
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func hashBytes(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

func hashTag(tag byte) uint64 { return (fnvOffset ^ uint64(tag)) * fnvPrime }

// featureHashes calls emit for every feature of words with its value.
func featureHashes(words []string, emit func(h uint64, val float32)) {
	if len(words) == 0 {
		return
	}
	// Word features: unigrams, bigrams (with sentence boundaries), first word.
	nw := 2*len(words) + 2
	wv := float32(1 / math.Sqrt(float64(nw)))
	prev := hashBytes(hashTag('b'), "^")
	for _, w := range words {
		emit(hashBytes(hashTag('u'), w), wv)
		emit(hashBytes(hashBytes(prev, " "), w), wv)
		prev = hashBytes(hashTag('b'), w)
	}
	emit(hashBytes(hashBytes(prev, " "), "$"), wv)
	emit(hashBytes(hashTag('f'), words[0]), wv)

	// Character 3-grams over " w1 w2 ... wn ".
	total := 1
	for _, w := range words {
		total += len(w) + 1
	}
	nc := 0
	if total >= 3 {
		nc += total - 2
	}
	if nc == 0 {
		return
	}
	cv := float32(charWeight / math.Sqrt(float64(nc)))
	// Walk the virtual string without building it.
	var ring [3]byte
	pos := 0
	push := func(b byte) {
		ring[pos%3] = b
		pos++
		if pos >= 3 {
			h := hashTag('3')
			for j := pos - 3; j < pos; j++ {
				h = (h ^ uint64(ring[j%3])) * fnvPrime
			}
			emit(h, cv)
		}
	}
	push(' ')
	for _, w := range words {
		for i := 0; i < len(w); i++ {
			push(w[i])
		}
		push(' ')
	}
}

// features fills w.feats with the model's known features of w.words.
func (m *model) features(w *work) {
	w.feats = w.feats[:0]
	featureHashes(w.words, func(h uint64, val float32) {
		if id, ok := m.index.get(h); ok {
			w.feats = append(w.feats, feat{id, val})
		}
	})
}

// probs fills w.scores with class probabilities for w.feats (the ensemble's average) and
// returns the best class.
func (m *model) probs(w *work) (int, float64) {
	if len(m.members) == 1 {
		return m.members[len(m.members)-1].probs(w.feats, w.scores[:m.k])
	}
	s := w.scores[:m.k]
	acc := w.acc[:m.k]
	clear(acc)
	total := 0.0
	for i, mb := range m.members {
		mb.probs(w.feats, s)
		wt := 1.0
		if i == 1 {
			wt = wrappedWeight
		}
		total += wt
		for j := range s {
			acc[j] += wt * s[j]
		}
	}
	best := 0
	for j := range s {
		s[j] = acc[j] / total
		if s[j] > s[best] {
			best = j
		}
	}
	return best, s[best]
}

// probs fills s with the member's class probabilities for feats and returns the best class.
func (mb *member) probs(feats []feat, s []float64) (int, float64) {
	k := len(s)
	var accBuf [32]float32
	acc := accBuf[:k:k]
	if k > len(accBuf) {
		acc = make([]float32, k)
	}
	for _, f := range feats {
		base := int(f.id) * k
		row := mb.w[base : base+k : base+k]
		v := f.val
		acc := acc[:len(row)]
		for j, x := range row {
			acc[j] += v * x
		}
	}
	for j := range s {
		s[j] = mb.bias[j] + float64(acc[j])
	}
	best := 0
	for j := range s {
		if s[j] > s[best] {
			best = j
		}
	}
	max := s[best]
	sum := 0.0
	for j := range s {
		s[j] = math.Exp(s[j] - max)
		sum += s[j]
	}
	for j := range s {
		s[j] /= sum
	}
	return best, s[best]
}

// bare is the reading of the regression of bare messages alone (features already computed).
func (m *model) bare(w *work) (int, float64) {
	return m.members[0].probs(w.feats, w.scores[:m.k])
}

// predict classifies prepared words.
func (m *model) predict(w *work) (int, float64) {
	m.features(w)
	return m.probs(w)
}

// trainModel fits the model with AdaGrad on the cross-entropy loss; deterministic (fixed seed).
func trainModel(k int, data [][]feat, labels []int, weights []float64, rows int, seed uint64) *member {
	m := &member{w: make([]float32, rows*k), bias: make([]float64, k)}
	g2 := make([]float32, rows*k)
	b2 := make([]float64, k)
	order := make([]int, len(data))
	for i := range order {
		order[i] = i
	}
	rng := rand.New(rand.NewPCG(1, 2+seed))
	scores := make([]float64, k)
	for ep := 0; ep < epochs; ep++ {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, n := range order {
			m.probs(data[n], scores)
			y := labels[n]
			for j := 0; j < k; j++ {
				g := scores[j]
				if j == y {
					g -= 1
				}
				g *= weights[n]
				b2[j] += g * g
				m.bias[j] -= learnRate * g / (math.Sqrt(b2[j]) + 1e-8)
				scores[j] = g
			}
			for _, f := range data[n] {
				base := int(f.id) * k
				for j := 0; j < k; j++ {
					g := float32(scores[j])*f.val + l2*m.w[base+j]
					if g == 0 {
						continue
					}
					g2[base+j] += g * g
					m.w[base+j] -= learnRate * g / (float32(math.Sqrt(float64(g2[base+j]))) + 1e-8)
				}
			}
		}
	}
	return m
}

// train builds a Classifier from examples.
func train(examples []example, original int, opts Options) *Classifier {
	tp := newTextPrep()
	c := &Classifier{text: tp, communes: newCommuneIndex(opts.Communes), schemes: newSchemeIndex(opts.Schemes)}
	tp.isCode = c.isCode
	w := newWork(len(Intents))
	words := make([][]string, len(examples))
	for i, e := range examples {
		tp.tokens(w, e.text)
		tp.learnAccents(w.normTok)
		tp.modelWords(w, false)
		words[i] = append([]string(nil), w.words...)
		tp.learn(words[i])
	}
	for _, name := range c.communes.names {
		tp.tokens(w, name)
		tp.modelWords(w, false)
		tp.learn(w.words)
	}
	tp.index()

	index := map[uint64]int32{}
	data := make([][]feat, len(examples))
	labels := make([]int, len(examples))
	weights := make([]float64, len(examples))
	for i, ws := range words {
		var fs []feat
		featureHashes(ws, func(h uint64, val float32) {
			id, ok := index[h]
			if !ok {
				id = int32(len(index))
				index[h] = id
			}
			fs = append(fs, feat{id, val})
		})
		data[i] = fs
		labels[i] = examples[i].label
		weights[i] = examples[i].weight
		if weights[i] == 0 {
			weights[i] = 1
		}
	}
	// Two regressions, trained in parallel: one on the examples as written, one also on the
	// examples wrapped in politeness and context. The first reads bare questions best, the
	// second keeps its reading when words are put around a question; their average does both.
	c.model = &model{k: len(Intents), index: newFeatureTable(index), members: make([]*member, 2)}
	var wg sync.WaitGroup
	for i, n := range []int{original, len(data)} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.model.members[i] = trainModelMemo(len(Intents), data[:n], labels[:n], weights[:n], len(index), uint64(i))
		}()
	}
	wg.Wait()
	return c
}

// featureTable maps feature hashes to rows with open addressing: the keys are hashes already,
// so a lookup is a mask and a few compares, several times faster than a Go map, which matters
// because every message looks up a hundred or so features.
type featureTable struct {
	keys []uint64 // 0 = empty; a feature whose hash is 0 is stored as zeroKey
	vals []int32
	mask uint64
}

const zeroKey = 0x9e3779b97f4a7c15 // stands in for a hash of 0

func newFeatureTable(m map[uint64]int32) *featureTable {
	n := 1
	for n < 2*len(m)+2 {
		n <<= 1
	}
	t := &featureTable{keys: make([]uint64, n), vals: make([]int32, n), mask: uint64(n - 1)}
	for k, v := range m {
		if k == 0 {
			k = zeroKey
		}
		i := mix(k) & t.mask
		for t.keys[i] != 0 {
			i = (i + 1) & t.mask
		}
		t.keys[i], t.vals[i] = k, v
	}
	return t
}

func (t *featureTable) get(k uint64) (int32, bool) {
	if k == 0 {
		k = zeroKey
	}
	for i := mix(k) & t.mask; ; i = (i + 1) & t.mask {
		switch t.keys[i] {
		case k:
			return t.vals[i], true
		case 0:
			return 0, false
		}
	}
}

// mix spreads the bits of an FNV hash over the low bits the table uses.
func mix(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	return k
}

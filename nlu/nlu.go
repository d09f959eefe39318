// Package nlu understands what a citizen's message asks: it classifies the message into one of the
// fixed intents of the gateway (greeting, eligibility, payment, ...; see Intents) and extracts the
// entities the conversation needs (application code, last four digits of the citizen ID, commune,
// beneficiary category, age).
//
// It works in pure Go and learns at start-up from the department's own training examples
// (data files nlu/*.jsonl, and nlu/wrappers.toml): Load trains two multinomial logistic
// regressions over word unigrams, bigrams and character n-grams of the folded text (diacritics
// removed, Telex/VNI key sequences decoded, chat abbreviations expanded, small typos corrected
// against the training vocabulary), one on the examples as written and one also on the examples
// wrapped in politeness and context, and averages them. A message is read in clauses, and the
// greetings, thanks and small talk around its request are peeled off (clauses.go). SMS keyword
// commands from basic phones ("TT TB-2025-000123 4567", "LICH Vu Phuc", "HS NKT", "DK", "HUY",
// "HD") are recognised by a small grammar before the model; application codes only in the shape
// of the department's codes (codes.go); neighbouring schemes by their words (schemes.go). A
// message the model is not confident about is reported as out of scope with Unsure set, so that
// the caller answers "not understood" kindly.
//
// A Classifier is immutable after Load and safe for concurrent use.
package nlu

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// Intents lists the 17 labels in INTENTS.md order; OutOfScope = "out_of_scope".
var Intents = []string{
	"greeting", "help", "eligibility", "benefit_amount", "payment", "documents",
	"application_status", "subscribe", "unsubscribe", "complaint", "contact_staff",
	"change_language", "thanks", "health_insurance", "funeral_support", "relocation",
	OutOfScope,
}

// OutOfScope is the intent of anything the gateway does not handle, and of messages it is unsure about.
const OutOfScope = "out_of_scope"

// Entity keys in Result.Entities.
const (
	EntityApplicationCode = "application_code"
	EntityIDLast4         = "id_last4"
	EntityCommune         = "commune"
	EntityCategory        = "category"
	EntityAge             = "age"
)

// Result is the understanding of one message.
type Result struct {
	Text       string            `json:"text"`
	Intent     string            `json:"intent"`
	Confidence float64           `json:"confidence"`
	Entities   map[string]string `json:"entities"` // never nil; keys: application_code, id_last4, commune, category, age
	// Unsure is true when confidence was below the acceptance threshold: Intent is then OutOfScope,
	// and the core answers "not understood" kindly with the menu and a human contact.
	Unsure bool `json:"-"`
}

// Options tune Load.
type Options struct {
	Communes []string // canonical commune names with diacritics ("Vũ Phúc"); entity `commune` returns one of these
	Schemes  []Scheme // neighbouring schemes (knowledge/other_schemes.toml): out_of_scope, entity other_scheme
}

// MaxInput is the number of bytes of a message that are looked at; the rest is ignored.
const MaxInput = 2000

// threshold is the acceptance threshold on the model's probability: below it the message is
// treated as not understood.
const threshold = 0.45

// socialBare is the probability from which the bare regression decides a greeting or thanks.
const socialBare = 0.9

// keepsItsIntent are the readings a neighbouring scheme's words do not override: someone who
// asks for a person, complains or manages announcements gets that, whatever scheme they name.
var keepsItsIntent = map[int]bool{
	intentIndex["contact_staff"]: true, intentIndex["complaint"]: true, intentIndex["subscribe"]: true,
	intentIndex["unsubscribe"]: true, intentIndex["change_language"]: true, intentIndex["application_status"]: true,
}

// oosThreshold is the probability from which an out-of-scope reading is trusted enough for a
// refusal, and a greeting or thanks enough for a social reply; below it the message counts as
// not understood, and the person gets the menu and the offer of a person rather than "we cannot
// answer that" or "you are welcome" to a question they asked.
const oosThreshold = 0.7

// keywordConfidence is the confidence reported for a message that matched the SMS keyword grammar.
const keywordConfidence = 0.99

// Classifier classifies messages. Build it with Load.
type Classifier struct {
	model    *model
	text     *textPrep
	communes *communeIndex
	schemes  *schemeIndex
	codes    atomic.Pointer[codeMatcher]
	scratch  sync.Pool // *work
}

// Load trains a classifier from the training files nlu/*.jsonl in fsys ({"text":..., "intent":...} per line);
// errors name file and line (bad JSON, unknown intent, empty text). Blank lines and lines starting
// with # or // are ignored. Every intent must have at least one example.
func Load(fsys fs.FS, opts Options) (*Classifier, error) {
	names, err := fs.Glob(fsys, "nlu/*.jsonl")
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	if len(names) == 0 {
		return nil, errors.New("nlu: no training files nlu/*.jsonl")
	}
	var examples []example
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("nlu: %w", err)
		}
		ex, err := parseExamples(path.Base(name), b)
		if err != nil {
			return nil, err
		}
		examples = append(examples, ex...)
	}
	seen := make([]bool, len(Intents))
	for _, e := range examples {
		seen[e.label] = true
	}
	for i, ok := range seen {
		if !ok {
			return nil, fmt.Errorf("nlu: no training example for intent %q", Intents[i])
		}
	}
	w, err := loadWrappers(fsys)
	if err != nil {
		return nil, err
	}
	return train(augment(examples, w), len(examples), opts), nil
}

// example is one training example: its text and the index of its intent in Intents.
type example struct {
	text   string
	label  int
	weight float64 // 0 means 1
}

var intentIndex = func() map[string]int {
	m := make(map[string]int, len(Intents))
	for i, s := range Intents {
		m[s] = i
	}
	return m
}()

// parseExamples reads JSONL training lines; errors name the file and the 1-based line.
func parseExamples(name string, b []byte) ([]example, error) {
	var out []example
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 || raw[0] == '#' || bytes.HasPrefix(raw, []byte("//")) {
			continue
		}
		var rec struct {
			Text   *string `json:"text"`
			Intent string  `json:"intent"`
		}
		if err := json.Unmarshal(raw, &rec); err != nil {
			return nil, fmt.Errorf("nlu: %s:%d: bad JSON: %v", name, line, err)
		}
		if rec.Text == nil || strings.TrimSpace(*rec.Text) == "" {
			return nil, fmt.Errorf("nlu: %s:%d: empty text", name, line)
		}
		if !utf8.ValidString(*rec.Text) {
			return nil, fmt.Errorf("nlu: %s:%d: text is not valid UTF-8", name, line)
		}
		idx, ok := intentIndex[rec.Intent]
		if !ok {
			return nil, fmt.Errorf("nlu: %s:%d: unknown intent %q", name, line, rec.Intent)
		}
		out = append(out, example{text: *rec.Text, label: idx})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("nlu: %s:%d: %v", name, line+1, err)
	}
	return out, nil
}

// capText cuts s to at most MaxInput bytes on a rune boundary.
func capText(s string) string {
	if len(s) <= MaxInput {
		return s
	}
	cut := MaxInput
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// Classify understands one message: its intent, a confidence in 0..1 and its entities. A message
// matching the SMS keyword grammar gets the keyword's intent; otherwise the model decides, and a
// probability below the acceptance threshold yields OutOfScope with Unsure set. Safe for
// concurrent use; any input is accepted (invalid UTF-8 is replaced, only the first MaxInput bytes count).
func (c *Classifier) Classify(text string) Result {
	text = capText(text)
	w := c.getWork()
	defer c.scratch.Put(w)
	c.text.prepare(w, text)
	res := Result{Text: text, Entities: c.entities(w)}
	label, p, fixed := c.read(w, text, res.Entities)
	if fixed >= 0 {
		res.Intent, res.Confidence, res.Unsure = Intents[fixed], p, fixed == intentIndex[OutOfScope] && p == 0
		return res
	}
	if hasCloserCue(w.keyTok) {
		// "…nộp ở đâu cảm ơn cán bộ nhiều": read again without the closer glued to the end.
		if head, ok := c.cutCloser(text); ok {
			hw := c.getWork()
			c.text.prepare(hw, head)
			hl, hp, hfixed := c.read(hw, head, res.Entities)
			c.scratch.Put(hw)
			switch {
			case hfixed >= 0 && hp > 0:
				res.Intent, res.Confidence = Intents[hfixed], hp
				return res
			case hfixed < 0 && hp >= confident && hl != label:
				label, p = hl, hp
			}
		}
	}
	if social(label) && p < oosThreshold && splitClauses(text) == nil {
		// The wrapped regression learnt greetings and thanks as what is put around a question, so
		// it doubts them; a message of one clause that the bare regression is sure is a greeting
		// (and both read so) is one.
		if lb, pb := c.model.bare(w); lb == label && pb >= socialBare {
			p = pb
		}
	}
	res.Confidence = round3(p)
	if id, ok := match(c.schemes.decisive, w.keyTok); ok && !keepsItsIntent[label] {
		// "bố tôi là thương binh ... được bao nhiêu": another scheme, whatever it sounds like.
		res.Intent, res.Entities[EntityOtherScheme] = OutOfScope, id
		res.Confidence = max(res.Confidence, keywordConfidence)
		return res
	}
	if p < threshold || label == intentIndex[OutOfScope] && p < oosThreshold ||
		social(label) && p < oosThreshold {
		res.Intent = OutOfScope
		res.Unsure = true
		return res
	}
	res.Intent = Intents[label]
	if label == intentIndex[OutOfScope] {
		if id, ok := match(c.schemes.words, w.keyTok); ok {
			res.Entities[EntityOtherScheme] = id
		}
	}
	return res
}

// read understands a prepared message. A message the grammar decides (an SMS command, a bare
// code, a bare yes/no) gets fixed ≥ 0: its intent, with p its confidence (0 for a bare yes/no,
// which is not understood). Otherwise fixed is -1 and label, p are the model's reading.
func (c *Classifier) read(w *work, text string, ents map[string]string) (label int, p float64, fixed int) {
	if intent, ok := c.keyword(w, ents); ok {
		return 0, keywordConfidence, intent
	}
	if intent, ok := c.keywordWithTail(w, ents); ok {
		return 0, keywordConfidence, intent
	}
	if bareAnswer(w.keyTok) {
		// "không", "no", "ok à": a reply to something this message does not carry. Never
		// guess an intent from it (a bare "no" is not "stop sending me messages").
		return 0, 0, intentIndex[OutOfScope]
	}
	if intent, conf, ok := c.bareCode(w); ok {
		return 0, conf, intent
	}
	label, p = c.decide(w, text, ents)
	return label, p, -1
}

// A message of at most sureWords words whose whole reading is at least sureWhole is not read in
// clauses (it costs two more readings, for nothing).
const (
	sureWhole = 0.995
	sureWords = 12
)

// decide is the model's reading of a prepared message: its core once the wrapping is peeled
// off, else the whole.
func (c *Classifier) decide(w *work, text string, ents map[string]string) (int, float64) {
	lw, pw := c.model.predict(w)
	if pw >= sureWhole && len(w.words) <= sureWords {
		// A short message read this surely as a whole has nothing around it to peel off.
		return lw, pw
	}
	lc, pc, ok := c.core(w, text, ents)
	if !ok || lc == lw {
		if ok && pc > pw {
			return lc, pc
		}
		return lw, pw
	}
	// The core and the whole disagree: the core wins when it is surer of its reading than the
	// whole is of its own, counting what the whole itself gives the core's reading.
	if pc+w.scores[lc] > pw {
		return lc, pc
	}
	return lw, pw
}

// Entities extracts entities only (used for follow-up answers in multi-turn flows, e.g. a bare "4567").
// The map is never nil.
func (c *Classifier) Entities(text string) map[string]string {
	text = capText(text)
	w := c.getWork()
	defer c.scratch.Put(w)
	c.text.prepare(w, text)
	return c.entities(w)
}

func (c *Classifier) getWork() *work {
	if w, ok := c.scratch.Get().(*work); ok {
		return w
	}
	return newWork(len(Intents))
}

func round3(p float64) float64 {
	return float64(int(p*1000+0.5)) / 1000
}

// answerWords are the words of a bare yes/no reply ("không ạ", "co", "nope", "yes please").
var answerWords = map[string]bool{
	"khong": true, "ko": true, "k": true, "kg": true, "khg": true, "hong": true, "co": true, "u": true,
	"uh": true, "um": true, "vang": true, "da": true, "a": true, "roi": true, "chua": true, "dung": true,
	"no": true, "nope": true, "nah": true, "yes": true, "yeah": true, "yep": true, "please": true,
	"not": true, "sure": true,
}

// bareAnswer reports whether a message consists only of yes/no words (at most three).
func bareAnswer(tok []string) bool {
	if len(tok) == 0 || len(tok) > 3 {
		return false
	}
	for _, t := range tok {
		if !answerWords[t] {
			return false
		}
	}
	return true
}

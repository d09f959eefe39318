package knowledge

import (
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/socialaid-vn/gateway/i18n"
)

// question is one question of questions.toml.
type question struct {
	Key     string          `toml:"key"`
	Kind    string          `toml:"kind"`
	Min     int             `toml:"min"`
	Max     int             `toml:"max"`
	Vi      string          `toml:"vi"`
	En      string          `toml:"en"`
	Short   string          `toml:"short"`
	ShortEn string          `toml:"short_en"`
	For     map[string]text `toml:"for"`
	Topic   []string        `toml:"topic"`
	Choices []*choice       `toml:"choice"`

	topics [][]string // Topic as canonical word sequences
}

// choice is one answer of a closed question.
type choice struct {
	Value    string   `toml:"value"`
	Vi       string   `toml:"vi"`
	En       string   `toml:"en"`
	Keyword  string   `toml:"keyword"`
	Words    []string `toml:"words"`
	Negative bool     `toml:"negative"`

	phrases []phrase // Words, labels and keyword as canonical word sequences
}

// phrase is one way of giving a choice; keyword phrases ("TE", "DT") are too short to be trusted
// inside free text and count only as direct answers.
type phrase struct {
	ws      []string
	keyword bool
}

type parseRules struct {
	Negation []string       `toml:"negation"`
	Numbers  map[string]int `toml:"numbers"`

	neg     map[string]bool
	numbers map[string]int
}

type verdictMeta struct {
	Sources        []string `toml:"sources"`
	PensionSources []string `toml:"pension_sources"`
	Reviewed       date     `toml:"reviewed"`
}

func (q *question) text(who string) text {
	if t, ok := q.For[who]; ok {
		return t
	}
	return text{Vi: q.Vi, En: q.En, Short: q.Short, ShortEn: q.ShortEn}
}

func (q *question) choice(value string) *choice {
	for _, c := range q.Choices {
		if c.Value == value {
			return c
		}
	}
	return nil
}

func (q *question) values() []string {
	var out []string
	for _, c := range q.Choices {
		out = append(out, c.Value)
	}
	return out
}

func (q *question) negative() *choice {
	for _, c := range q.Choices {
		if c.Negative {
			return c
		}
	}
	return nil
}

// words turns text into the canonical words answers are compared in: normalized, without
// diacritics, chat shorthands expanded ("Ko có ạ" → khong co anh).
func words(s string) []string { return strings.Fields(i18n.ExpandAbbreviations(i18n.Key(s))) }

// plainWords is words without expanding shorthands (so "85t" and "t" stay as typed).
func plainWords(s string) []string { return strings.Fields(i18n.Key(s)) }

func (b *Base) loadQuestions(fsys fs.FS) error {
	const file = "questions.toml"
	var f struct {
		Question []*question `toml:"question"`
		Parse    parseRules  `toml:"parse"`
		Verdict  verdictMeta `toml:"verdict"`
	}
	raw, md, err := decodeTOML(fsys, file, &f)
	if err != nil {
		return err
	}
	if err := undecoded(file, raw, md); err != nil {
		return err
	}
	b.parse = f.Parse
	b.parse.neg = map[string]bool{}
	for _, w := range f.Parse.Negation {
		for _, x := range words(w) {
			b.parse.neg[x] = true
		}
	}
	if len(b.parse.neg) == 0 {
		return lineError(file, findLine(raw, "negation", 1), "[parse] negation is empty")
	}
	b.parse.numbers = map[string]int{}
	for w, n := range f.Parse.Numbers {
		b.parse.numbers[i18n.Key(w)] = n
	}
	b.qByKey = map[string]*question{}
	for i, q := range f.Question {
		line := findLine(raw, "[[question]]", i+1)
		fail := func(format string, args ...any) error {
			return lineError(file, line, "question %q: %s", q.Key, fmt.Sprintf(format, args...))
		}
		if !codeRE.MatchString(q.Key) {
			return lineError(file, line, "bad key %q (lower-case letters, digits and _)", q.Key)
		}
		if b.qByKey[q.Key] != nil {
			return fail("key used twice")
		}
		if err := requireFields(map[string]string{"vi": q.Vi, "en": q.En, "short": q.Short, "short_en": q.ShortEn}); err != nil {
			return fail("%v", err)
		}
		for who, t := range q.For {
			if err := requireFields(map[string]string{"vi": t.Vi, "en": t.En, "short": t.Short, "short_en": t.ShortEn}); err != nil {
				return fail("[question.for.%s]: %v", who, err)
			}
		}
		for _, t := range append([]text{q.text("")}, mapValues(q.For)...) {
			for _, s := range []string{t.Short, t.ShortEn} {
				if n := len([]rune(i18n.Fold(s))); n > smsMax {
					return fail("short text is %d characters, more than %d", n, smsMax)
				}
			}
		}
		for _, t := range q.Topic {
			w := words(t)
			if q.Kind == "number" {
				w = plainWords(t)
			}
			if len(w) == 0 {
				return fail("empty topic word")
			}
			q.topics = append(q.topics, w)
		}
		switch q.Kind {
		case "number":
			if len(q.Choices) > 0 {
				return fail("a number question has no choices")
			}
			if q.Min < 0 || q.Max <= q.Min {
				return fail("min %d and max %d: want 0 <= min < max", q.Min, q.Max)
			}
		case "choice":
			if len(q.Choices) < 2 {
				return fail("a choice question needs at least 2 choices")
			}
			negs := 0
			for j, c := range q.Choices {
				if !codeRE.MatchString(c.Value) {
					return fail("choice %d: bad value %q", j+1, c.Value)
				}
				if q.Choices[j] != q.choice(c.Value) {
					return fail("choice value %q used twice", c.Value)
				}
				if err := requireFields(map[string]string{"vi": c.Vi, "en": c.En}); err != nil {
					return fail("choice %q: %v", c.Value, err)
				}
				if c.Negative {
					negs++
				}
				for j, w := range append([]string{c.Keyword, c.Vi, c.En}, c.Words...) {
					if p := words(w); len(p) > 0 {
						c.phrases = append(c.phrases, phrase{ws: p, keyword: j == 0})
					}
				}
			}
			if negs > 1 {
				return fail("more than one choice has negative = true")
			}
		default:
			return fail("kind must be choice or number, not %q", q.Kind)
		}
		b.questions = append(b.questions, q)
		b.qByKey[q.Key] = q
	}
	// Pressing a button or typing its keyword must give the button's answer.
	for i, q := range b.questions {
		for _, c := range q.Choices {
			for _, s := range []string{c.Vi, c.En, c.Keyword} {
				if s == "" {
					continue
				}
				if v, ok := b.parseChoice(q, s); !ok || v != c.Value {
					return lineError(file, findLine(raw, "[[question]]", i+1), "question %q: the answer %q is read as %q, not as its choice %q (check words)", q.Key, s, v, c.Value)
				}
			}
		}
	}
	who, age := b.qByKey["who"], b.qByKey["age"]
	if who == nil || who.Kind != "choice" {
		return lineError(file, 0, `a choice question with key "who" (the person's situation) is required`)
	}
	if age == nil || age.Kind != "number" {
		return lineError(file, 0, `a number question with key "age" is required`)
	}
	for _, q := range b.questions {
		for w := range q.For {
			if who.choice(w) == nil {
				return lineError(file, findLine(raw, "[question.for."+w, 1), "question %q: [question.for.%s]: unknown situation (one of %s)", q.Key, w, strings.Join(who.values(), ", "))
			}
		}
	}
	b.verdict = f.Verdict
	vline := findLine(raw, "[verdict]", 1)
	if b.verdict.Reviewed.IsZero() {
		return lineError(file, vline, "[verdict] reviewed: missing date")
	}
	for _, id := range append(slices.Clone(b.verdict.Sources), b.verdict.PensionSources...) {
		if _, ok := b.sources[id]; !ok {
			return lineError(file, vline, "[verdict]: unknown source %q (sources.csv)", id)
		}
	}
	if len(b.verdict.Sources) == 0 {
		return lineError(file, vline, "[verdict] sources: at least one source is needed")
	}
	return nil
}

func mapValues[K comparable, V any](m map[K]V) []V {
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// find returns the positions where phrase occurs in ws as whole words.
func find(ws, phrase []string) []int {
	var out []int
	for i := 0; i+len(phrase) <= len(ws); i++ {
		if slices.Equal(ws[i:i+len(phrase)], phrase) {
			out = append(out, i)
		}
	}
	return out
}

// parseChoice reads a free-text answer to a closed question. The longest phrase of a non-negative
// choice wins, unless a negation stands just before it ("không có", "không thuộc hộ nghèo");
// a negation without such a phrase picks the negative choice. Two different choices matched
// equally well, or nothing matched, is not understood.
func (b *Base) parseChoice(q *question, answer string) (string, bool) {
	return b.choiceIn(q, words(answer), false)
}

// choiceIn reads the answer in ws; inText skips keyword phrases (ws is a whole message).
func (b *Base) choiceIn(q *question, ws []string, inText bool) (string, bool) {
	var best *choice
	bestStart, bestLen, tie := -1, 0, false
	negWord := false
	for _, c := range q.Choices {
		for _, ph := range c.phrases {
			if inText && ph.keyword {
				continue
			}
			p := ph.ws
			for _, at := range find(ws, p) {
				if c.Negative {
					negWord = true
					continue
				}
				switch {
				case len(p) > bestLen:
					best, bestStart, bestLen, tie = c, at, len(p), false
				case len(p) == bestLen && c != best:
					tie = true
				}
			}
		}
	}
	negAt := -1
	for i, w := range ws {
		if b.parse.neg[w] {
			negAt = i
			break
		}
	}
	if best != nil && !tie {
		negated := false
		for i := max(0, bestStart-3); i < bestStart; i++ {
			if b.parse.neg[ws[i]] {
				negated = true
			}
		}
		if !negated {
			return best.Value, true
		}
	}
	if best != nil && tie && negAt < 0 {
		return "", false
	}
	if n := q.negative(); n != nil && (negAt >= 0 || negWord) {
		return n.Value, true
	}
	return "", false
}

// parseNumber reads a whole number from an answer ("82", "82 tuổi", "85t", "2 cháu", "hai con").
// Number words count only for small counts (max 20 or less), and so does a bare negation meaning
// 0 ("không có con"): for an age, "không" is a refusal or a slip, not age zero. Out of range is not
// understood.
func (b *Base) parseNumber(q *question, answer string) (int, bool) {
	ws := plainWords(answer)
	n, found := -1, false
	for _, w := range ws {
		if d, ok := leadingNumber(w); ok {
			n, found = d, true
			break
		}
	}
	if !found && q.Max <= 20 {
		for _, w := range ws {
			if d, ok := b.parse.numbers[w]; ok {
				n, found = d, true
				break
			}
		}
	}
	if !found && q.Min == 0 && q.Max <= 20 {
		for _, w := range words(answer) {
			if b.parse.neg[w] {
				n, found = 0, true
				break
			}
		}
	}
	if !found || n < q.Min || n > q.Max {
		return 0, false
	}
	return n, true
}

// leadingNumber reads the digits a word starts with ("85t" → 85). Words like "tb-2025" do not count.
func leadingNumber(w string) (int, bool) {
	i := 0
	for i < len(w) && w[i] >= '0' && w[i] <= '9' {
		i++
	}
	if i == 0 || i > 4 {
		return 0, false
	}
	for _, r := range w[i:] {
		if !unicode.IsLetter(r) {
			return 0, false
		}
	}
	n, err := strconv.Atoi(w[:i])
	return n, err == nil
}

// extract takes from a free-text message the answers it states about questions not yet answered:
// the situation ("người khuyết tật"), an age or count followed by its topic word ("81 tuổi",
// "2 con"), and closed questions whose topic appears ("không có lương hưu", "hộ cận nghèo").
// It is cautious: a topic followed by a negation is a question ("có lương hưu không"), not an
// answer, and is skipped.
func (b *Base) extract(s *Screening, msg string) {
	if strings.TrimSpace(msg) == "" {
		return
	}
	ws, plain := words(msg), plainWords(msg)
	for _, q := range b.questions {
		if _, known := s.Facts[q.Key]; known {
			continue
		}
		switch {
		case q.Key == "who":
			if v, ok := b.choiceIn(q, ws, true); ok && q.choice(v) != nil && !q.choice(v).Negative {
				s.Facts[q.Key] = v
			}
		case q.Kind == "number":
			if n, ok := b.numberBeforeTopic(q, plain); ok {
				s.Facts[q.Key] = strconv.Itoa(n)
			}
		default:
			if v, ok := b.choiceNearTopic(q, ws); ok {
				s.Facts[q.Key] = v
			}
		}
	}
}

func (b *Base) numberBeforeTopic(q *question, ws []string) (int, bool) {
	for i, w := range ws {
		if i > 0 && limitWords[ws[i-1]] {
			continue // "dưới 3 tuổi", "từ 80 tuổi": a limit, not the person's age
		}
		n, ok := leadingNumber(w)
		if ok && len(w) > 0 {
			// "85t": the unit is glued to the number.
			rest := strings.TrimLeft(w, "0123456789")
			if rest != "" {
				if slices.ContainsFunc(q.topics, func(t []string) bool { return len(t) == 1 && t[0] == rest }) && n >= q.Min && n <= q.Max {
					return n, true
				}
				continue
			}
		}
		if !ok && q.Max <= 20 {
			n, ok = b.parse.numbers[w]
		}
		if !ok {
			continue
		}
		for _, t := range q.topics {
			if i+1+len(t) <= len(ws) && slices.Equal(ws[i+1:i+1+len(t)], t) && n >= q.Min && n <= q.Max {
				return n, true
			}
		}
	}
	return 0, false
}

// limitWords before a number make it a limit ("dưới 3 tuổi"), not a fact about the person.
var limitWords = map[string]bool{"duoi": true, "tren": true, "qua": true, "hon": true, "tu": true, "den": true, "under": true, "over": true}

func (b *Base) choiceNearTopic(q *question, ws []string) (string, bool) {
	for _, t := range q.topics {
		for _, at := range find(ws, t) {
			end := at + len(t)
			after := ws[end:min(len(ws), end+3)]
			if slices.ContainsFunc(after, func(w string) bool { return b.parse.neg[w] }) {
				continue // "có lương hưu không": asked, not told
			}
			window := ws[max(0, at-3):min(len(ws), end+3)]
			if v, ok := b.choiceIn(q, window, true); ok {
				return v, true
			}
		}
	}
	return "", false
}

package knowledge

import (
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/i18n"
)

// Intents are the policy intents Answer knows, in the order of the intent list.
var Intents = []string{
	"eligibility", "benefit_amount", "documents", "payment", "health_insurance",
	"funeral_support", "relocation", "complaint", "contact_staff",
}

// Categories are the beneficiary categories an answer may be specific to (the NLU's entity).
var Categories = []string{"elderly", "disability", "child", "single_parent", "hiv"}

const (
	smsMax  = 300  // the most a short text may hold, folded, with its source
	textMax = 1000 // the most a full text may hold, with its source line
)

// answer is one [[answer]] of answers.toml.
type answer struct {
	Intent      string   `toml:"intent"`
	Category    string   `toml:"category"`
	Topic       string   `toml:"topic"`    // a narrower question of the intent ("time_limit")
	Words       []string `toml:"words"`    // words that ask the topic, in a message of the intent
	Decisive    []string `toml:"decisive"` // words that ask the topic whatever the intent read
	Sources     []string `toml:"sources"`
	Reviewed    date     `toml:"reviewed"`
	Unconfirmed bool     `toml:"unconfirmed"`
	Vi          string   `toml:"vi"`
	En          string   `toml:"en"`
	Short       string   `toml:"short"`
	ShortEn     string   `toml:"short_en"`
}

func (a *answer) text() text { return text{Vi: a.Vi, En: a.En, Short: a.Short, ShortEn: a.ShortEn} }

// placeholderRE finds {name}, {name:arg} and {standard*N} in texts.
var placeholderRE = regexp.MustCompile(`\{([a-z_]+)(?::([a-z0-9_]+)|\*([0-9]+(?:[.,][0-9]+)?))?\}`)

func (b *Base) loadAnswers(fsys fs.FS) error {
	const file = "answers.toml"
	var f struct {
		Answer []*answer `toml:"answer"`
	}
	raw, md, err := decodeTOML(fsys, file, &f)
	if err != nil {
		return err
	}
	if err := undecoded(file, raw, md); err != nil {
		return err
	}
	b.answers = map[string]*answer{}
	for i, a := range f.Answer {
		line := findLine(raw, "[[answer]]", i+1)
		key := a.Intent
		if a.Category != "" {
			key += "." + a.Category
		}
		if a.Topic != "" {
			key += "#" + a.Topic
		}
		fail := func(format string, args ...any) error {
			return lineError(file, line, "%s: %s", key, fmt.Sprintf(format, args...))
		}
		if !slices.Contains(Intents, a.Intent) {
			return fail("unknown intent %q (one of %s)", a.Intent, strings.Join(Intents, ", "))
		}
		if a.Category != "" && !slices.Contains(Categories, a.Category) {
			return fail("unknown category %q (one of %s)", a.Category, strings.Join(Categories, ", "))
		}
		if _, dup := b.answers[key]; dup {
			return fail("answer given twice")
		}
		if a.Topic != "" && !codeRE.MatchString(a.Topic) {
			return fail("bad topic %q (lower-case letters, digits and _)", a.Topic)
		}
		if a.Topic == "" && len(a.Words)+len(a.Decisive) > 0 {
			return fail("words and decisive need a topic")
		}
		if a.Topic != "" && len(a.Words)+len(a.Decisive) == 0 {
			return fail("topic %q has no words and no decisive words: it could never be asked", a.Topic)
		}
		if len(a.Sources) == 0 {
			return fail("sources: at least one source is needed")
		}
		for _, id := range a.Sources {
			if _, ok := b.sources[id]; !ok {
				return fail("unknown source %q (sources.csv)", id)
			}
		}
		if a.Reviewed.IsZero() {
			return fail("reviewed: missing date")
		}
		if err := requireFields(map[string]string{"vi": a.Vi, "en": a.En, "short": a.Short, "short_en": a.ShortEn}); err != nil {
			return fail("%v", err)
		}
		for _, s := range []string{a.Vi, a.En, a.Short, a.ShortEn} {
			if err := b.checkPlaceholders(s); err != nil {
				return fail("%v", err)
			}
		}
		b.answers[key] = a
		if a.Topic != "" {
			b.topicAnswers = append(b.topicAnswers, a)
		}
	}
	for _, in := range Intents {
		if _, ok := b.answers[in]; !ok {
			return lineError(file, 0, "no general answer (without category) for intent %q", in)
		}
	}
	return b.checkLengths(file, raw, f.Answer)
}

// checkPlaceholders rejects a placeholder the renderer does not know, and any { } left unmatched.
func (b *Base) checkPlaceholders(s string) error {
	for _, m := range placeholderRE.FindAllStringSubmatch(s, -1) {
		switch name, arg, times := m[1], m[2], m[3]; {
		case (name == "amount" || name == "coef") && arg != "":
			if b.groupByID[arg] == nil {
				return fmt.Errorf("%s: unknown group %q (groups.csv)", m[0], arg)
			}
			if b.groupByID[arg].coef == 0 {
				return fmt.Errorf("%s: group %q has no coefficient in groups.csv", m[0], arg)
			}
		case name == "standard" && times != "":
		case arg == "" && times == "" && slices.Contains([]string{"standard", "standard_from", "standard_source", "pension", "contact", "commune"}, name):
		default:
			return fmt.Errorf("unknown placeholder %s", m[0])
		}
	}
	if rest := placeholderRE.ReplaceAllString(s, ""); strings.ContainsAny(rest, "{}") {
		return fmt.Errorf("a { or } that is not a known placeholder (e.g. {standard}, {amount:CODE}): %q", excerpt(rest))
	}
	return nil
}

func excerpt(s string) string {
	i := strings.IndexAny(s, "{}")
	return s[max(0, i-20):min(len(s), i+20)]
}

// checkLengths renders every answer with the current level and every commune's contact, so an answer
// that would be too long for SMS is refused at start-up rather than cut off in front of a citizen.
func (b *Base) checkLengths(file, raw string, answers []*answer) error {
	communes := []string{""}
	for _, c := range b.communes {
		communes = append(communes, c.Name)
	}
	for i, a := range answers {
		places := communes
		if !strings.Contains(a.Vi+a.En+a.Short+a.ShortEn, "{contact}") {
			places = communes[:1]
		}
		for _, lang := range i18n.Langs {
			for _, commune := range places {
				r, _ := b.render(a, lang, commune, time.Now())
				if n := len([]rune(r.Short)); n > smsMax {
					return lineError(file, findLine(raw, "[[answer]]", i+1), "%s: short (%s) is %d characters with its source, more than %d: %q", a.Intent, lang, n, smsMax, r.Short)
				}
				if n := len([]rune(r.Text)); n > textMax {
					return lineError(file, findLine(raw, "[[answer]]", i+1), "%s: %s text is %d characters with its source, more than %d", a.Intent, lang, n, textMax)
				}
			}
		}
	}
	return nil
}

// Answer returns the sourced answer to a policy intent (eligibility, benefit_amount, documents,
// payment, health_insurance, funeral_support, relocation, complaint, contact_staff); ok is false
// for any other intent. Entities may hold category (the answer for that situation when there is
// one; an age of 60 or more counts as elderly), commune (its office and phone become the contact)
// and age. Amounts are computed from the levels in force on now. Short is folded to ASCII.
func (b *Base) Answer(intent, lang string, entities map[string]string, now time.Time) (r gateway.Reply, ok bool) {
	lang = normLang(lang)
	if !slices.Contains(Intents, intent) {
		return gateway.Reply{}, false
	}
	cat := entities["category"]
	if cat == "" {
		if age, err := strconv.Atoi(strings.TrimSpace(entities["age"])); err == nil && age >= 60 && age <= 130 {
			cat = "elderly"
		}
	}
	a := b.answers[intent+"#"+entities["topic"]]
	if a == nil || entities["topic"] == "" {
		a = b.answers[intent+"."+cat]
	}
	if a == nil {
		a = b.answers[intent]
	}
	return b.render(a, lang, entities["commune"], now)
}

// renderKey is one rendered answer: the same answer, language, commune and day render alike.
type renderKey struct {
	a                   *answer
	lang, commune, date string
}

// maxRendered bounds the rendered answers kept (answers × languages × communes are far fewer).
const maxRendered = 10000

func (b *Base) render(a *answer, lang, commune string, now time.Time) (gateway.Reply, bool) {
	k := renderKey{a, lang, commune, now.In(vietnam).Format("2006-01-02")}
	if r, ok := b.rendered.Load(k); ok {
		return r.(gateway.Reply), true
	}
	r, ok := b.renderAnswer(a, lang, commune, now)
	if ok && b.renderedN.Add(1) <= maxRendered {
		b.rendered.Store(k, r)
	}
	return r, ok
}

func (b *Base) renderAnswer(a *answer, lang, commune string, now time.Time) (gateway.Reply, bool) {
	t := a.text()
	full := b.fillText(t.full(lang), lang, false, commune, now)
	short := b.fillText(t.short(lang), lang, true, commune, now)
	if a.Unconfirmed {
		c := b.texts["caveat_unconfirmed"]
		full += "\n\n" + c.full(lang)
		short += " " + c.short(lang)
	}
	std := levelAt(b.levels, now)
	var extra []level
	uses := t.full(lang) + t.short(lang)
	if strings.Contains(uses, "{standard") || strings.Contains(uses, "{amount:") {
		extra = append(extra, std)
	}
	if strings.Contains(uses, "{pension}") {
		extra = append(extra, levelAt(b.pension, now))
	}
	src, srcShort := b.sourceNames(lang, a.Sources, extra)
	line := b.texts["source_line"]
	full += "\n\n" + fill(line.full(lang), map[string]string{"source": src, "reviewed": formatDate(lang, a.Reviewed.Time)})
	short += " " + fill(line.short(lang), map[string]string{"source": srcShort})
	return gateway.Reply{Text: full, Short: i18n.Fold(short), Intent: a.Intent}, true
}

// Topic returns the topic of intent that text asks ("bao lâu thì có kết quả" → "time_limit" for
// documents), or "".
func (b *Base) Topic(intent, text string) string {
	tok := strings.Fields(i18n.Key(text))
	for _, a := range b.topicAnswers {
		if a.Intent == intent && (hasPhrase(tok, a.Words) || hasPhrase(tok, a.Decisive)) {
			return a.Topic
		}
	}
	return ""
}

// DecisiveTopic returns the intent and topic that text asks whatever it was understood as
// ("…được cộng cả 2 khoản không" → benefit_amount, both), or ok false.
func (b *Base) DecisiveTopic(text string) (intent, topic string, ok bool) {
	tok := strings.Fields(i18n.Key(text))
	for _, a := range b.topicAnswers {
		if hasPhrase(tok, a.Decisive) {
			return a.Intent, a.Topic, true
		}
	}
	return "", "", false
}

// hasPhrase reports whether one of phrases (matched folded, as whole words) is in tok.
func hasPhrase(tok []string, phrases []string) bool {
	for _, p := range phrases {
		pw := phraseWords(p)
		if len(pw) == 0 {
			continue
		}
		for i := 0; i+len(pw) <= len(tok); i++ {
			if slices.Equal(tok[i:i+len(pw)], pw) {
				return true
			}
		}
	}
	return false
}

// phraseWords is a phrase of the data files folded into words, folded once: the phrases are
// few and fixed, the messages many.
func phraseWords(p string) []string {
	if w, ok := folded.Load(p); ok {
		return w.([]string)
	}
	w := strings.Fields(i18n.Key(p))
	folded.Store(p, w)
	return w
}

var folded sync.Map // phrase → []string

// docNumberRE finds a legal document's number ("76/2024") to tell whether a source is already named.
var docNumberRE = regexp.MustCompile(`\d+/\d{4}`)

// sourceNames joins the named sources, adding the decree of each level used when the list does
// not already name it (so a new level in levels.csv is cited without editing answers).
func (b *Base) sourceNames(lang string, ids []string, levels []level) (full, short string) {
	var fulls, ss []string
	for _, id := range ids {
		s := b.sources[id]
		if lang == "en" {
			fulls = append(fulls, s.en)
		} else {
			fulls = append(fulls, s.vi)
		}
		ss = append(ss, s.short)
	}
	for _, l := range levels {
		num := docNumberRE.FindString(l.Source)
		joined := strings.Join(fulls, " ")
		if num != "" && strings.Contains(joined, num) || num == "" && strings.Contains(joined, l.Source) {
			continue
		}
		if lang == "en" {
			fulls = append(fulls, l.sourceEn)
		} else {
			fulls = append(fulls, l.Source)
		}
		ss = append(ss, l.sourceShort)
	}
	return strings.Join(fulls, "; "), strings.Join(ss, "; ")
}

// fillText replaces the placeholders of an answer text.
func (b *Base) fillText(s, lang string, short bool, commune string, now time.Time) string {
	if !strings.Contains(s, "{") {
		return s
	}
	std := levelAt(b.levels, now)
	return placeholderRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := placeholderRE.FindStringSubmatch(m)
		name, arg, times := sub[1], sub[2], sub[3]
		switch {
		case name == "amount" && arg != "":
			g := b.groupByID[arg]
			return b.money(lang, short, b.amount(g, 1, now))
		case name == "coef" && arg != "":
			return formatCoef(lang, b.groupByID[arg].coef)
		case name == "standard" && times != "":
			h, err := parseCoefficient(times)
			if err != nil {
				return m
			}
			return b.money(lang, short, std.Amount*h/100)
		case name == "standard":
			return b.money(lang, short, std.Amount)
		case name == "standard_from":
			return formatDate(lang, std.From)
		case name == "standard_source":
			if lang == "en" {
				return std.sourceEn
			}
			return std.Source
		case name == "pension":
			return b.money(lang, short, levelAt(b.pension, now).Amount)
		case name == "contact":
			return b.contact(lang, commune, short)
		case name == "commune":
			if c, ok := b.Commune(commune); ok {
				return c.Name
			}
			return commune
		}
		return m
	})
}

// amount is a group's monthly amount on now: coefficient × the level of its scheme × count.
func (b *Base) amount(g *group, count int, now time.Time) int64 {
	ls := b.levels
	if g.scheme == "social_pension" {
		ls = b.pension
	}
	return (levelAt(ls, now).Amount*g.coef*int64(count) + 50) / 100
}

// money writes an amount the way the language does: 1.250.000 đồng, 1,250,000 VND.
func (b *Base) money(lang string, short bool, n int64) string {
	sep := "."
	if lang == "en" {
		sep = ","
	}
	t := b.texts["money"]
	tmpl := t.full(lang)
	if short {
		tmpl = t.short(lang)
	}
	return fill(tmpl, map[string]string{"n": group3(n, sep)})
}

func group3(n int64, sep string) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []string
	for len(s) > 3 {
		out = append([]string{s[len(s)-3:]}, out...)
		s = s[:len(s)-3]
	}
	out = append([]string{s}, out...)
	r := strings.Join(out, sep)
	if neg {
		r = "-" + r
	}
	return r
}

// formatCoef writes hundredths as a coefficient: 2,5 (vi), 2.5 (en); 1,0 keeps one decimal.
func formatCoef(lang string, h int64) string {
	s := fmt.Sprintf("%d.%02d", h/100, h%100)
	s = strings.TrimSuffix(s, "0")
	if lang != "en" {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}

// formatDate writes a day: 01/07/2025 (vi), 1 July 2025 (en).
func formatDate(lang string, t time.Time) string {
	if lang == "en" {
		return t.In(vietnam).Format("2 January 2006")
	}
	return t.In(vietnam).Format("02/01/2006")
}

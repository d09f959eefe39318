package knowledge

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/i18n"
)

// Screening is the state of one eligibility screener conversation. It is a plain value: the
// conversation core stores it (json.Marshal) between turns and passes it back to Step. State read
// back after the data files changed is safe: answers the current files do not know are dropped
// and asked again.
type Screening struct {
	// Facts are the answers so far by question key of questions.toml: "who" (elderly, disability,
	// child, single_parent, hiv), "age" ("82"), "pension" ("no"), "household" ("poor"), ...
	Facts map[string]string `json:"facts,omitempty"`
	// Pending is the key of the question waiting for an answer; "" before the first question and
	// after the verdict.
	Pending string `json:"pending,omitempty"`
	// Commune is the commune named when the screener started; the verdict gives its office.
	Commune string `json:"commune,omitempty"`
	// Done is set once the verdict has been given.
	Done bool `json:"done,omitempty"`
}

// elderlyFrom is the age from which a person whose situation was not said is taken as elderly.
const elderlyFrom = 60

// StartScreening begins a screener, prefilled from entities (category, age, commune) and from what
// the text that started it states ("mẹ tôi 81 tuổi không có lương hưu" → age 81, no pension; an
// age of 60 or more without another situation counts as elderly). Call Step with "" to get the
// first question.
func (b *Base) StartScreening(entities map[string]string, text string) *Screening {
	s := &Screening{Facts: map[string]string{}}
	if c := entities["category"]; b.qByKey["who"].choice(c) != nil {
		s.Facts["who"] = c
	}
	if age := b.qByKey["age"]; age != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(entities["age"])); err == nil && n >= age.Min && n <= age.Max {
			s.Facts["age"] = strconv.Itoa(n)
		}
	}
	if c := strings.TrimSpace(entities["commune"]); c != "" {
		s.Commune = c
		if known, ok := b.Commune(c); ok {
			s.Commune = known.Name
		}
	}
	b.extract(s, text)
	b.inferWho(s)
	return s
}

func (b *Base) inferWho(s *Screening) {
	if s.Facts["who"] != "" || b.qByKey["who"].choice("elderly") == nil {
		return
	}
	if n, err := strconv.Atoi(s.Facts["age"]); err == nil && n >= elderlyFrom {
		s.Facts["who"] = "elderly"
	}
}

// Step feeds answer to the pending question ("" on the first call) and returns the next question,
// or the verdict with done=true. Only the questions still needed are asked: those whose answer
// could still raise the amount for the person's situation (groups.csv), the most valuable
// possibility first; so the social pension is mentioned when it is known to apply, and not asked
// about once a higher allowance is established. Closed questions come
// with Choices whose Payload is the answer text, so a pressed button and a typed answer are read
// the same way. understood is false when answer does not answer the pending question; r then asks
// it again kindly and s is unchanged. An answer may also state other facts ("82 tuổi, không có
// lương hưu"), which are kept. A nil s starts afresh (its state is then lost to the caller).
func (b *Base) Step(s *Screening, answer, lang string, now time.Time) (r gateway.Reply, done, understood bool) {
	lang = normLang(lang)
	if s == nil {
		s = &Screening{}
	}
	if s.Facts == nil {
		s.Facts = map[string]string{}
	}
	b.sanitize(s)
	if q := b.qByKey[s.Pending]; q != nil && strings.TrimSpace(answer) != "" {
		v, ok := b.read(q, answer)
		if !ok {
			return b.ask(q, s, lang, true), false, false
		}
		s.Facts[q.Key] = v
	}
	b.extract(s, answer)
	b.inferWho(s)
	if q := b.next(s, now); q != nil {
		s.Pending, s.Done = q.Key, false
		return b.ask(q, s, lang, false), false, true
	}
	s.Pending, s.Done = "", true
	return b.verdictReply(s, lang, now), true, true
}

// sanitize drops facts the current questions do not accept.
func (b *Base) sanitize(s *Screening) {
	for k, v := range s.Facts {
		q := b.qByKey[k]
		ok := q != nil
		if ok && q.Kind == "choice" {
			ok = q.choice(v) != nil
		} else if ok {
			n, err := strconv.Atoi(v)
			ok = err == nil && n >= q.Min && n <= q.Max
		}
		if !ok {
			delete(s.Facts, k)
		}
	}
}

func (b *Base) read(q *question, answer string) (string, bool) {
	if q.Kind == "number" {
		n, ok := b.parseNumber(q, answer)
		return strconv.Itoa(n), ok
	}
	return b.parseChoice(q, answer)
}

// state of a group against the facts known.
type state int

const (
	failed state = iota
	open
	matched
)

// status tells whether g applies to the facts, and if still open which questions it needs.
func (b *Base) status(g *group, facts map[string]string) (state, map[string]bool) {
	if !slices.Contains(g.categories, facts["who"]) {
		return failed, nil
	}
	needs := map[string]bool{}
	if g.ageFrom >= 0 || g.ageUnder >= 0 {
		if a, err := strconv.Atoi(facts["age"]); err != nil {
			needs["age"] = true
		} else if g.ageFrom >= 0 && a < g.ageFrom || g.ageUnder >= 0 && a >= g.ageUnder {
			return failed, nil
		}
	}
	for _, c := range g.conds {
		v, known := facts[c.key]
		switch {
		case !known:
			needs[c.key] = true
		case !slices.Contains(c.values, v):
			return failed, nil
		}
	}
	if g.per != "" {
		if n, err := strconv.Atoi(facts[g.per]); err != nil {
			needs[g.per] = true
		} else if n <= 0 {
			return failed, nil
		}
	}
	if len(needs) > 0 {
		return open, needs
	}
	return matched, nil
}

// count is the multiplier of a group: the answer to its per question, or 1.
func (g *group) count(facts map[string]string) int {
	if g.per == "" {
		return 1
	}
	n, _ := strconv.Atoi(facts[g.per])
	return n
}

// next picks the question to ask: among the still-open groups that could pay more than the best
// group already matched, the one that could pay most (file order on a tie), and of the questions
// it still needs, the first in file order. nil when no answer could change the result, so a
// person is never asked what cannot matter.
func (b *Base) next(s *Screening, now time.Time) *question {
	if s.Facts["who"] == "" {
		return b.qByKey["who"]
	}
	var best int64
	type openGroup struct {
		potential int64
		needs     map[string]bool
	}
	var opens []openGroup
	for _, g := range b.groups {
		st, needs := b.status(g, s.Facts)
		switch st {
		case matched:
			best = max(best, b.amount(g, g.count(s.Facts), now))
		case open:
			n := g.count(s.Facts)
			if needs[g.per] {
				n = b.qByKey[g.per].Max
			}
			potential := b.amount(g, n, now)
			if g.coef == 0 {
				potential = 1 // amount not known: worth asking only when nothing else applies
			}
			opens = append(opens, openGroup{potential, needs})
		}
	}
	slices.SortStableFunc(opens, func(x, y openGroup) int { return cmp.Compare(y.potential, x.potential) })
	if len(opens) == 0 || opens[0].potential <= best {
		return nil
	}
	for _, q := range b.questions {
		if opens[0].needs[q.Key] {
			return q
		}
	}
	return nil
}

// ask renders a question, with the "not understood" line first when again.
func (b *Base) ask(q *question, s *Screening, lang string, again bool) gateway.Reply {
	t := q.text(s.Facts["who"])
	r := gateway.Reply{Text: t.full(lang), Short: t.short(lang), Intent: "eligibility"}
	if again {
		re := b.texts["reask"]
		r.Text = re.full(lang) + "\n" + r.Text
		r.Short = re.short(lang) + " " + r.Short
	}
	r.Short = i18n.Fold(r.Short)
	for _, c := range q.Choices {
		label := c.Vi
		if lang == "en" {
			label = c.En
		}
		r.Choices = append(r.Choices, gateway.Choice{Label: label, Payload: label, Keyword: c.Keyword})
	}
	return r
}

type match struct {
	g      *group
	amount int64
	count  int
}

// verdictReply is the end of the screener: the group that may apply with its coefficient and
// monthly amount, the social pension where it applies and which of the two is higher, the form,
// where to file, and that the commune decides.
func (b *Base) verdictReply(s *Screening, lang string, now time.Time) gateway.Reply {
	var allowance, pension []match
	for _, g := range b.groups {
		if st, _ := b.status(g, s.Facts); st != matched {
			continue
		}
		m := match{g: g, count: g.count(s.Facts)}
		m.amount = b.amount(g, m.count, now)
		if g.scheme == "social_pension" {
			pension = append(pension, m)
		} else {
			allowance = append(allowance, m)
		}
	}
	byAmount := func(a, b match) int { return cmp.Compare(b.amount, a.amount) }
	slices.SortStableFunc(allowance, byAmount)
	slices.SortStableFunc(pension, byAmount)

	tx := b.texts
	std := levelAt(b.levels, now)
	sources := slices.Clone(b.verdict.Sources)
	levels := []level{std}
	var full, short []string
	add := func(key string, vars map[string]string) {
		full = append(full, fill(tx[key].full(lang), vars))
		if sh := fill(tx[key].short(lang), vars); sh != "" {
			short = append(short, sh)
		}
	}
	contact := map[string]string{"contact": b.contact(lang, s.Commune, false)}
	if len(allowance) == 0 && len(pension) == 0 {
		add("verdict_none", contact)
	} else {
		add("verdict_title", nil)
		form := ""
		if len(allowance) > 0 {
			a := allowance[0]
			form = a.g.form
			label := a.g.label.full(lang)
			full = append(full, fill(tx["verdict_group"].full(lang), map[string]string{"label": label}))
			short = append(short, fill(tx["verdict_group"].short(lang), map[string]string{"label": a.g.label.short(lang)}))
			key := "verdict_amount"
			switch {
			case a.g.coef == 0:
				key = "verdict_amount_unknown"
			case a.g.per != "":
				key = "verdict_amount_per_child"
			}
			full = append(full, fill(tx[key].full(lang), b.amountVars(lang, false, a, std)))
			short = append(short, fill(tx[key].short(lang), b.amountVars(lang, true, a, std)))
			if len(allowance) > 1 {
				var others []string
				for _, o := range allowance[1:] {
					others = append(others, o.g.label.full(lang))
				}
				full = append(full, fill(tx["verdict_others"].full(lang), map[string]string{"labels": strings.Join(others, "; ")}))
			}
		}
		if len(pension) > 0 {
			p := pension[0]
			sources = append(sources, b.verdict.PensionSources...)
			levels = append(levels, levelAt(b.pension, now))
			full = append(full, fill(tx["verdict_pension"].full(lang), map[string]string{"pension": b.money(lang, false, p.amount)}))
			short = append(short, fill(tx["verdict_pension"].short(lang), map[string]string{"pension": b.money(lang, true, p.amount)}))
			if len(allowance) == 0 {
				form = p.g.form
			} else {
				switch a := allowance[0]; {
				case a.amount > p.amount:
					add("verdict_allowance_higher", nil)
				case a.amount < p.amount:
					add("verdict_pension_higher", nil)
					form = p.g.form
				default:
					add("verdict_equal", nil)
				}
			}
		}
		if len(allowance) > 0 && !allowance[0].g.confirmed {
			if allowance[0].g.coef == 0 {
				add("caveat_group_unconfirmed", nil)
			} else {
				add("caveat_unconfirmed", nil)
			}
		}
		full = append(full, fill(tx["verdict_form"].full(lang), map[string]string{"form": form, "contact": contact["contact"]}))
		// SMS folds đ to d as people read it ("Mau 1d"); the group named just before tells the
		// disability form from the elderly one.
		short = append(short, fill(tx["verdict_form"].short(lang), map[string]string{"form": form}))
		add("verdict_decides", nil)
	}
	src, srcShort := b.sourceNames(lang, sources, levels)
	line := tx["source_line"]
	full = append(full, "", fill(line.full(lang), map[string]string{"source": src, "reviewed": formatDate(lang, b.verdict.Reviewed.Time)}))
	tail := fill(line.short(lang), map[string]string{"source": srcShort})
	// The SMS version drops its least useful parts rather than being cut off.
	sms := i18n.Fold(strings.Join(append(slices.Clone(short), tail), " "))
	for len(short) > 1 && len([]rune(sms)) > smsMax {
		short = short[1:]
		sms = i18n.Fold(strings.Join(append(slices.Clone(short), tail), " "))
	}
	return gateway.Reply{Text: strings.Join(full, "\n"), Short: sms, Intent: "eligibility"}
}

func (b *Base) amountVars(lang string, short bool, m match, std level) map[string]string {
	return map[string]string{
		"coef":     formatCoef(lang, m.g.coef),
		"standard": b.money(lang, short, std.Amount),
		"amount":   b.money(lang, short, m.amount),
		"children": strconv.Itoa(m.count),
	}
}

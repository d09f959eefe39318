// Package knowledge is where the gateway's policy answers come from: who qualifies for the monthly
// social allowance, how much is paid, which papers to file, how payment, health insurance, funeral
// support, moving and complaints work, and where each commune's office is. Everything is read from
// data files a department edits (data/files/knowledge/, overridable through DATA_DIR), validated at
// start-up with errors naming the file and line:
//
//   - levels.csv, social_pension.csv: the standard level and the social pension as dated histories,
//     one line per decree; every amount the gateway states is coefficient × the level in force;
//   - groups.csv: beneficiary groups, conditions, coefficients and forms (also the screener's rules);
//   - sources.csv: the legal sources answers name;
//   - answers.toml: the answers, in Vietnamese and English, full and for SMS;
//   - questions.toml: the eligibility screener's questions and how answers are read;
//   - texts.toml: the pieces put around answers (source line, money, contact, verdict);
//   - communes.csv: communes and wards with their office, address, phone and hours;
//   - holidays.csv: public holidays and swapped days, for working-day deadlines and office hours.
//   - other_schemes.toml: neighbouring schemes (người có công, lương hưu, thất nghiệp, ...) with
//     the words that identify them and where to go.
//
// A Base is immutable once loaded and safe for concurrent use. The eligibility screener keeps its
// state in a Screening, a plain JSON-serialisable value the conversation core stores between turns.
package knowledge

import (
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/socialaid-vn/gateway/i18n"
)

// Dir is the folder of fsys the knowledge files are read from.
const Dir = "knowledge"

// vietnam is the time zone dates in the data files are in (no DST, so no tzdata is needed).
var vietnam = time.FixedZone("ICT", 7*3600)

// Commune is one commune or ward served, with the contact point citizens are sent to.
type Commune struct{ Name, Kind, Province, Office, Address, Phone, Hours string }

// Level is an amount in force from a date, with its legal source (in Vietnamese).
type Level struct {
	Amount int64 // VND per month
	From   time.Time
	Source string
}

// Base holds the loaded knowledge. Build it with Load.
type Base struct {
	// rendered keeps rendered answers (answer.go: render); renderedN counts them.
	rendered  sync.Map
	renderedN atomic.Int64

	levels       []level // standard level, sorted by From
	pension      []level // social pension, sorted by From
	sources      map[string]source
	groups       []*group
	groupByID    map[string]*group
	answers      map[string]*answer // "intent", "intent.category" or "intent#topic"
	topicAnswers []*answer          // answers with a topic, in file order
	questions    []*question
	qByKey       map[string]*question
	parse        parseRules
	verdict      verdictMeta
	texts        map[string]text
	communes     []Commune
	hoursEn      []string // English hours, parallel to communes ("" = use Hours)
	byKey        map[string]int
	// The working calendar (calendar.go): holidays.csv by date, office hours per commune.
	days        map[string]dayKind
	weeks       []week // parallel to communes
	defaultWeek week

	schemes     map[string]*OtherScheme // other_schemes.toml by id
	schemeOrder []string
}

// level is one line of levels.csv or social_pension.csv.
type level struct {
	Level
	sourceEn, sourceShort string
}

// source is one line of sources.csv.
type source struct{ vi, en, short string }

// text is one piece of text in both languages, full and for SMS.
type text struct {
	Vi      string `toml:"vi"`
	En      string `toml:"en"`
	Short   string `toml:"short"`
	ShortEn string `toml:"short_en"`
}

func (t text) full(lang string) string {
	if lang == "en" {
		return t.En
	}
	return t.Vi
}

func (t text) short(lang string) string {
	if lang == "en" {
		return t.ShortEn
	}
	return t.Short
}

// Load reads and validates knowledge/* from fsys. Errors name the file and, where it applies, the
// line ("knowledge/levels.csv:3: bad date ..."). Nothing is partially loaded: on error the caller
// gets no Base and should refuse to start.
func Load(fsys fs.FS) (*Base, error) {
	b := &Base{}
	steps := []func(fs.FS) error{
		b.loadSources, b.loadLevels, b.loadTexts, b.loadQuestions, b.loadGroups, b.loadCommunes, b.loadAnswers,
		b.loadHolidays,
		b.loadOtherSchemes,
	}
	for _, step := range steps {
		if err := step(fsys); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// Communes lists the communes and wards in file order. The slice is a copy.
func (b *Base) Communes() []Commune { return slices.Clone(b.communes) }

// Commune finds a commune by name, ignoring case, diacritics, punctuation and a leading
// "xã"/"phường" ("vu phuc", "Phường Vũ Phúc" → Vũ Phúc).
func (b *Base) Commune(name string) (Commune, bool) {
	i, ok := b.communeIndex(name)
	if !ok {
		return Commune{}, false
	}
	return b.communes[i], true
}

func (b *Base) communeIndex(name string) (int, bool) {
	k := i18n.Key(name)
	if i, ok := b.byKey[k]; ok {
		return i, true
	}
	for _, p := range []string{"xa ", "phuong ", "thi tran ", "ward ", "commune "} {
		if rest, ok := strings.CutPrefix(k, p); ok {
			if i, ok := b.byKey[rest]; ok {
				return i, true
			}
		}
	}
	return 0, false
}

// ContactLine is one line naming where to go or call: the commune's office, address, phone and
// hours when commune names a known commune, else the general instruction (the one-stop desk of
// the person's commune).
func (b *Base) ContactLine(lang, commune string) string {
	return b.contact(lang, commune, false)
}

func (b *Base) contact(lang, commune string, short bool) string {
	lang = normLang(lang)
	i, ok := b.communeIndex(commune)
	if commune == "" || !ok {
		t := b.texts["contact_general"]
		if short {
			return t.short(lang)
		}
		return t.full(lang)
	}
	c := b.communes[i]
	hours := c.Hours
	if lang == "en" && b.hoursEn[i] != "" {
		hours = b.hoursEn[i]
	}
	t := b.texts["contact_commune"]
	tmpl := t.full(lang)
	if short {
		tmpl = t.short(lang)
	}
	return fill(tmpl, map[string]string{
		"office": c.Office, "address": c.Address, "phone": c.Phone, "hours": hours, "commune": c.Name,
	})
}

// StandardLevel returns the standard level in force on the given day (in Vietnam time). A day
// before the first line of levels.csv gets the first line, so an answer always has an amount.
func (b *Base) StandardLevel(on time.Time) Level { return levelAt(b.levels, on).Level }

func levelAt(ls []level, on time.Time) level {
	if len(ls) == 0 {
		return level{}
	}
	day := dayOf(on)
	cur := ls[0]
	for _, l := range ls[1:] {
		if l.From.After(day) {
			break
		}
		cur = l
	}
	return cur
}

// dayOf is midnight, Vietnam time, of the day t falls on there.
func dayOf(t time.Time) time.Time {
	t = t.In(vietnam)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, vietnam)
}

func normLang(lang string) string {
	if l := i18n.Lang(lang); l != "" {
		return l
	}
	return i18n.Langs[0]
}

// fill replaces {name} placeholders from vars; unknown placeholders are left as they are.
func fill(s string, vars map[string]string) string {
	if !strings.Contains(s, "{") {
		return s
	}
	pairs := make([]string, 0, 2*len(vars))
	for k, v := range vars {
		pairs = append(pairs, "{"+k+"}", v)
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

// lineError is a validation error at a place in a data file.
func lineError(file string, line int, format string, args ...any) error {
	if line > 0 {
		return fmt.Errorf("%s/%s:%d: %s", Dir, file, line, fmt.Sprintf(format, args...))
	}
	return fmt.Errorf("%s/%s: %s", Dir, file, fmt.Sprintf(format, args...))
}

package knowledge

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
	"github.com/socialaid-vn/gateway/i18n"
)

// csvRow is one data line of a CSV file, with its line number and values by column name.
type csvRow struct {
	line int
	vals map[string]string
}

func (r csvRow) get(col string) string { return strings.TrimSpace(r.vals[col]) }

// readCSV reads a CSV file whose lines starting with # are comments and whose first other line
// is the header. Every column in required must be in the header; columns neither required nor
// optional are rejected, so that a typo in a header is caught.
func readCSV(fsys fs.FS, file string, required, optional []string) ([]csvRow, error) {
	raw, err := fs.ReadFile(fsys, Dir+"/"+file)
	if err != nil {
		return nil, fmt.Errorf("%s/%s: %w", Dir, file, err)
	}
	if !utf8.Valid(raw) {
		return nil, lineError(file, 0, "not UTF-8 text (save the file as CSV UTF-8)")
	}
	raw = []byte(strings.TrimPrefix(string(raw), "\uFEFF")) // a BOM from spreadsheet programs
	r := csv.NewReader(strings.NewReader(string(raw)))
	r.Comment = '#'
	r.FieldsPerRecord = -1
	var header []string
	var rows []csvRow
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, lineError(file, pe.Line, "%v", pe.Err)
			}
			return nil, lineError(file, 0, "%v", err)
		}
		line, _ := r.FieldPos(0)
		if header == nil {
			for i := range rec {
				rec[i] = strings.ToLower(strings.TrimSpace(rec[i]))
			}
			for _, c := range rec {
				if !slices.Contains(required, c) && !slices.Contains(optional, c) {
					return nil, lineError(file, line, "unknown column %q (columns: %s)", c, strings.Join(append(slices.Clone(required), optional...), ","))
				}
			}
			for _, c := range required {
				if !slices.Contains(rec, c) {
					return nil, lineError(file, line, "missing column %q", c)
				}
			}
			header = rec
			continue
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(rec) != len(header) {
			return nil, lineError(file, line, "%d fields, the header has %d (a comma inside a text needs \"quotes\")", len(rec), len(header))
		}
		vals := make(map[string]string, len(rec))
		for i, c := range header {
			vals[c] = rec[i]
		}
		rows = append(rows, csvRow{line: line, vals: vals})
	}
	if header == nil {
		return nil, lineError(file, 0, "no header line")
	}
	return rows, nil
}

// parseDate reads YYYY-MM-DD as midnight in Vietnam.
func parseDate(s string) (time.Time, error) {
	t, err := time.ParseInLocation("2006-01-02", strings.TrimSpace(s), vietnam)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad date %q (want YYYY-MM-DD, e.g. 2024-07-01)", s)
	}
	return t, nil
}

// parseAmount reads a whole number of VND, allowing . , and spaces as thousands separators.
func parseAmount(s string) (int64, error) {
	clean := strings.NewReplacer(".", "", ",", "", " ", "", "\u00a0", "").Replace(strings.TrimSpace(s))
	n, err := strconv.ParseInt(clean, 10, 64)
	if err != nil || n <= 0 || n > 1_000_000_000 {
		return 0, fmt.Errorf("bad amount %q (want a whole number of VND such as 500000)", s)
	}
	return n, nil
}

// parseCoefficient reads a coefficient such as 1.5 or 2,5 as hundredths (150).
func parseCoefficient(s string) (int64, error) {
	s = strings.ReplaceAll(strings.TrimSpace(s), ",", ".")
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > 2 || whole == "" {
		return 0, fmt.Errorf("bad coefficient %q (want a number such as 1.5)", s)
	}
	frac += strings.Repeat("0", 2-len(frac))
	w, err1 := strconv.ParseInt(whole, 10, 64)
	f, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil || w < 0 || w > 100 {
		return 0, fmt.Errorf("bad coefficient %q (want a number such as 1.5)", s)
	}
	h := w*100 + f
	if h <= 0 {
		return 0, fmt.Errorf("coefficient %q must be more than 0", s)
	}
	return h, nil
}

func (b *Base) loadSources(fsys fs.FS) error {
	const file = "sources.csv"
	rows, err := readCSV(fsys, file, []string{"id", "source", "source_en", "source_short"}, nil)
	if err != nil {
		return err
	}
	b.sources = map[string]source{}
	for _, r := range rows {
		id := r.get("id")
		if id == "" {
			return lineError(file, r.line, "empty id")
		}
		if _, dup := b.sources[id]; dup {
			return lineError(file, r.line, "id %q appears twice", id)
		}
		s := source{vi: r.get("source"), en: r.get("source_en"), short: r.get("source_short")}
		if err := requireFields(map[string]string{"source": s.vi, "source_en": s.en, "source_short": s.short}); err != nil {
			return lineError(file, r.line, "%v", err)
		}
		b.sources[id] = s
	}
	return nil
}

func requireFields(fields map[string]string) error {
	var missing []string
	for k, v := range fields {
		if strings.TrimSpace(v) == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("empty %s", strings.Join(missing, ", "))
	}
	return nil
}

func (b *Base) loadLevels(fsys fs.FS) error {
	var err error
	if b.levels, err = readLevels(fsys, "levels.csv"); err != nil {
		return err
	}
	b.pension, err = readLevels(fsys, "social_pension.csv")
	return err
}

func readLevels(fsys fs.FS, file string) ([]level, error) {
	rows, err := readCSV(fsys, file, []string{"from", "amount", "source", "source_en", "source_short"}, nil)
	if err != nil {
		return nil, err
	}
	var out []level
	seen := map[time.Time]int{}
	for _, r := range rows {
		from, err := parseDate(r.get("from"))
		if err != nil {
			return nil, lineError(file, r.line, "%v", err)
		}
		if prev, dup := seen[from]; dup {
			return nil, lineError(file, r.line, "a level from %s is already on line %d", r.get("from"), prev)
		}
		seen[from] = r.line
		amount, err := parseAmount(r.get("amount"))
		if err != nil {
			return nil, lineError(file, r.line, "%v", err)
		}
		l := level{Level: Level{Amount: amount, From: from, Source: r.get("source")}, sourceEn: r.get("source_en"), sourceShort: r.get("source_short")}
		if err := requireFields(map[string]string{"source": l.Source, "source_en": l.sourceEn, "source_short": l.sourceShort}); err != nil {
			return nil, lineError(file, r.line, "%v", err)
		}
		out = append(out, l)
	}
	if len(out) == 0 {
		return nil, lineError(file, 0, "no level: at least one line is needed")
	}
	slices.SortFunc(out, func(a, b level) int { return a.From.Compare(b.From) })
	return out, nil
}

// textKeys are the pieces texts.toml must hold, and whether each needs its SMS versions.
var textKeys = map[string]bool{
	"source_line": true, "money": true, "contact_commune": true, "contact_general": true,
	"caveat_unconfirmed": true, "caveat_group_unconfirmed": true, "reask": true, "verdict_title": true, "verdict_group": true,
	"verdict_amount": true, "verdict_amount_per_child": true, "verdict_others": false, "verdict_amount_unknown": true,
	"verdict_pension": true, "verdict_allowance_higher": true, "verdict_pension_higher": true,
	"verdict_equal": true, "verdict_form": true, "verdict_decides": true, "verdict_none": true,
}

func (b *Base) loadTexts(fsys fs.FS) error {
	const file = "texts.toml"
	raw, md, err := decodeTOML(fsys, file, &b.texts)
	if err != nil {
		return err
	}
	if err := undecoded(file, raw, md); err != nil {
		return err
	}
	for _, key := range slices.Sorted(maps.Keys(b.texts)) {
		if _, ok := textKeys[key]; !ok {
			return lineError(file, findLine(raw, "["+key+"]", 1), "unknown text [%s]", key)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(textKeys)) {
		t, ok := b.texts[key]
		if !ok {
			return lineError(file, 0, "missing [%s]", key)
		}
		fields := map[string]string{"vi": t.Vi, "en": t.En}
		if textKeys[key] {
			fields["short"], fields["short_en"] = t.Short, t.ShortEn
		}
		if err := requireFields(fields); err != nil {
			return lineError(file, findLine(raw, "["+key+"]", 1), "[%s]: %v", key, err)
		}
	}
	return nil
}

// decodeTOML reads a TOML file into v, naming file and line on a syntax error.
func decodeTOML(fsys fs.FS, file string, v any) (string, toml.MetaData, error) {
	rawb, err := fs.ReadFile(fsys, Dir+"/"+file)
	if err != nil {
		return "", toml.MetaData{}, fmt.Errorf("%s/%s: %w", Dir, file, err)
	}
	raw := string(rawb)
	md, err := toml.Decode(raw, v)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return "", md, lineError(file, pe.Position.Line, "%s", pe.Message)
		}
		return "", md, lineError(file, 0, "%v", err)
	}
	return raw, md, nil
}

// undecoded rejects keys the loader does not know (a misspelt "shrot" would otherwise be lost).
func undecoded(file, raw string, md toml.MetaData) error {
	if keys := md.Undecoded(); len(keys) > 0 {
		k := keys[0]
		last := k[len(k)-1]
		return lineError(file, findKeyLine(raw, last), "unknown key %q", k.String())
	}
	return nil
}

// findLine returns the line of the nth (1-based) line of raw that starts with prefix after
// leading spaces, or 0.
func findLine(raw, prefix string, nth int) int {
	n := 0
	for i, l := range strings.Split(raw, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), prefix) {
			n++
			if n == nth {
				return i + 1
			}
		}
	}
	return 0
}

func findKeyLine(raw, key string) int {
	for i, l := range strings.Split(raw, "\n") {
		l = strings.TrimSpace(l)
		if rest, ok := strings.CutPrefix(l, key); ok && strings.HasPrefix(strings.TrimSpace(rest), "=") {
			return i + 1
		}
	}
	return findLine(raw, "["+key, 1)
}

// date is a TOML date (2025-07-01), also accepted as a quoted string.
type date struct{ time.Time }

func (d *date) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case time.Time:
		d.Time = time.Date(v.Year(), v.Month(), v.Day(), 0, 0, 0, 0, vietnam)
		return nil
	case string:
		t, err := parseDate(v)
		d.Time = t
		return err
	}
	return fmt.Errorf("bad date %v (want YYYY-MM-DD, e.g. 2025-07-01)", v)
}

// group is one line of groups.csv.
type group struct {
	code, scheme, number string
	categories           []string
	ageFrom, ageUnder    int // -1 = no limit
	conds                []cond
	coef                 int64 // hundredths; 0 when not known (empty in groups.csv, confirmed=no)
	per                  string
	confirmed            bool
	form                 string
	label                text
	line                 int
}

// cond is one condition of a group: the answer to question key is one of values.
type cond struct {
	key    string
	values []string
}

var codeRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

func (b *Base) loadGroups(fsys fs.FS) error {
	const file = "groups.csv"
	cols := []string{"code", "scheme", "group", "categories", "age_from", "age_under", "conditions", "coefficient", "per", "confirmed", "form", "label", "label_en", "short", "short_en"}
	rows, err := readCSV(fsys, file, cols, nil)
	if err != nil {
		return err
	}
	who := b.qByKey["who"]
	b.groupByID = map[string]*group{}
	for _, r := range rows {
		g := &group{code: r.get("code"), scheme: r.get("scheme"), number: r.get("group"), form: r.get("form"), line: r.line}
		fail := func(format string, args ...any) error {
			return lineError(file, r.line, "%s: %s", g.code, fmt.Sprintf(format, args...))
		}
		if !codeRE.MatchString(g.code) {
			return lineError(file, r.line, "bad code %q (lower-case letters, digits and _)", g.code)
		}
		if prev, dup := b.groupByID[g.code]; dup {
			return fail("code already used on line %d", prev.line)
		}
		if g.scheme != "allowance" && g.scheme != "social_pension" {
			return fail("unknown scheme %q (allowance or social_pension)", g.scheme)
		}
		g.categories = strings.Fields(r.get("categories"))
		if len(g.categories) == 0 {
			return fail("no categories")
		}
		for _, c := range g.categories {
			if who.choice(c) == nil {
				return fail("unknown category %q (one of %s)", c, strings.Join(who.values(), ", "))
			}
		}
		if g.ageFrom, err = parseAge(r.get("age_from")); err != nil {
			return fail("age_from: %v", err)
		}
		if g.ageUnder, err = parseAge(r.get("age_under")); err != nil {
			return fail("age_under: %v", err)
		}
		if g.ageFrom >= 0 && g.ageUnder >= 0 && g.ageFrom >= g.ageUnder {
			return fail("age_from %d is not below age_under %d", g.ageFrom, g.ageUnder)
		}
		for _, tok := range strings.Fields(r.get("conditions")) {
			key, vals, ok := strings.Cut(tok, "=")
			q := b.qByKey[key]
			switch {
			case !ok || vals == "":
				return fail("bad condition %q (want question=value, e.g. household=poor)", tok)
			case q == nil || key == "who":
				return fail("condition %q: unknown question %q (questions.toml)", tok, key)
			case q.Kind != "choice":
				return fail("condition %q: %s is a number; use age_from/age_under or per", tok, key)
			}
			c := cond{key: key}
			for _, v := range strings.Split(vals, "|") {
				if q.choice(v) == nil {
					return fail("condition %q: unknown answer %q (one of %s)", tok, v, strings.Join(q.values(), ", "))
				}
				c.values = append(c.values, v)
			}
			g.conds = append(g.conds, c)
		}
		if r.get("coefficient") == "" && strings.ToLower(r.get("confirmed")) == "no" {
			g.coef = 0 // not known: the answer names the group and sends to the commune for the amount
		} else if g.coef, err = parseCoefficient(r.get("coefficient")); err != nil {
			return fail("%v", err)
		}
		if g.per = r.get("per"); g.per != "" {
			if q := b.qByKey[g.per]; q == nil || q.Kind != "number" || g.per == "age" {
				return fail("per %q is not a count question of questions.toml", g.per)
			}
		}
		switch strings.ToLower(r.get("confirmed")) {
		case "yes":
			g.confirmed = true
		case "no":
		default:
			return fail("confirmed must be yes or no, not %q", r.get("confirmed"))
		}
		g.label = text{Vi: r.get("label"), En: r.get("label_en"), Short: r.get("short"), ShortEn: r.get("short_en")}
		if err := requireFields(map[string]string{"group": g.number, "form": g.form, "label": g.label.Vi, "label_en": g.label.En, "short": g.label.Short, "short_en": g.label.ShortEn}); err != nil {
			return fail("%v", err)
		}
		b.groups = append(b.groups, g)
		b.groupByID[g.code] = g
	}
	for _, c := range who.Choices {
		if !slices.ContainsFunc(b.groups, func(g *group) bool { return slices.Contains(g.categories, c.Value) }) {
			return lineError(file, 0, "no line for category %q: the screener could never answer it", c.Value)
		}
	}
	return nil
}

func parseAge(s string) (int, error) {
	if s == "" {
		return -1, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 150 {
		return 0, fmt.Errorf("bad age %q (whole years, or empty)", s)
	}
	return n, nil
}

func (b *Base) loadCommunes(fsys fs.FS) error {
	const file = "communes.csv"
	rows, err := readCSV(fsys, file, []string{"name", "kind", "province", "office", "address", "phone", "hours"}, []string{"hours_en"})
	if err != nil {
		return err
	}
	b.byKey = map[string]int{}
	b.defaultWeek, _ = parseHours(defaultHours)
	for _, r := range rows {
		c := Commune{Name: r.get("name"), Kind: r.get("kind"), Province: r.get("province"), Office: r.get("office"),
			Address: r.get("address"), Phone: r.get("phone"), Hours: r.get("hours")}
		if err := requireFields(map[string]string{"name": c.Name, "kind": c.Kind, "province": c.Province, "office": c.Office, "phone": c.Phone}); err != nil {
			return lineError(file, r.line, "%v", err)
		}
		if c.Kind != "xa" && c.Kind != "phuong" && c.Kind != "dac_khu" {
			return lineError(file, r.line, "%s: kind must be xa, phuong or dac_khu, not %q", c.Name, c.Kind)
		}
		k := i18n.Key(c.Name)
		if prev, dup := b.byKey[k]; dup {
			return lineError(file, r.line, "%s: the name is already used by %s", c.Name, b.communes[prev].Name)
		}
		w, err := parseHours(c.Hours)
		if err != nil {
			return lineError(file, r.line, "%s: %v", c.Name, err)
		}
		b.byKey[k] = len(b.communes)
		b.communes = append(b.communes, c)
		b.weeks = append(b.weeks, w)
		b.hoursEn = append(b.hoursEn, r.get("hours_en"))
	}
	return nil
}

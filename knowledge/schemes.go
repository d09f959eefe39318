package knowledge

import (
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/i18n"
)

// OtherSchemesFile lists the neighbouring schemes (người có công, lương hưu, thất nghiệp, ...)
// that are not the monthly social allowance, with the words that identify them and where to go.
const OtherSchemesFile = "other_schemes.toml"

// OtherScheme is a scheme the gateway does not handle but recognises, to point people to the
// right office instead of answering with social-allowance amounts.
type OtherScheme struct {
	ID       string   `toml:"id"`
	Name     string   `toml:"name"`
	NameEn   string   `toml:"name_en"`
	Decisive []string `toml:"decisive"` // words that make a message about this scheme
	Words    []string `toml:"words"`    // words that name it in an out-of-scope question
	Vi       string   `toml:"vi"`
	En       string   `toml:"en"`
	Short    string   `toml:"short"`
	ShortEn  string   `toml:"short_en"`
}

func (s *OtherScheme) text() text {
	return text{Vi: s.Vi, En: s.En, Short: s.Short, ShortEn: s.ShortEn}
}

// ReadOtherSchemes reads and validates knowledge/other_schemes.toml; errors name the file and
// line. Used by Load, and by tools that need only the words (gateway nlu).
func ReadOtherSchemes(fsys fs.FS) ([]OtherScheme, error) {
	var f struct {
		Scheme []OtherScheme `toml:"scheme"`
	}
	raw, md, err := decodeTOML(fsys, OtherSchemesFile, &f)
	if err != nil {
		return nil, err
	}
	if err := undecoded(OtherSchemesFile, raw, md); err != nil {
		return nil, err
	}
	seen := map[string]int{}
	words := map[string]string{}
	for i := range f.Scheme {
		s := &f.Scheme[i]
		line := findLine(raw, "[[scheme]]", i+1)
		fail := func(format string, args ...any) error {
			return lineError(OtherSchemesFile, line, "%s: %s", s.ID, fmt.Sprintf(format, args...))
		}
		if !codeRE.MatchString(s.ID) {
			return nil, lineError(OtherSchemesFile, line, "bad id %q (lower-case letters, digits and _)", s.ID)
		}
		if prev, dup := seen[s.ID]; dup {
			return nil, fail("id already used on line %d", prev)
		}
		seen[s.ID] = line
		if err := requireFields(map[string]string{"name": s.Name, "name_en": s.NameEn, "vi": s.Vi, "en": s.En, "short": s.Short, "short_en": s.ShortEn}); err != nil {
			return nil, fail("%v", err)
		}
		if len(s.Decisive)+len(s.Words) == 0 {
			return nil, fail("no decisive words and no words: it could never be recognised")
		}
		for _, w := range slices.Concat(s.Decisive, s.Words) {
			k := i18n.Key(w)
			if k == "" {
				return nil, fail("empty word")
			}
			if other, dup := words[k]; dup && other != s.ID {
				return nil, fail("word %q is also a word of %s", w, other)
			}
			words[k] = s.ID
		}
		for _, t := range []string{s.Vi, s.En, s.Short, s.ShortEn} {
			if rest := strings.ReplaceAll(t, "{contact}", ""); strings.ContainsAny(rest, "{}") {
				return nil, fail("only the placeholder {contact} is known: %q", excerpt(rest))
			}
		}
	}
	return f.Scheme, nil
}

func (b *Base) loadOtherSchemes(fsys fs.FS) error {
	schemes, err := ReadOtherSchemes(fsys)
	if err != nil {
		return err
	}
	b.schemes = map[string]*OtherScheme{}
	for i := range schemes {
		s := &schemes[i]
		b.schemes[s.ID] = s
		b.schemeOrder = append(b.schemeOrder, s.ID)
		// Refuse at start-up an SMS form that would not fit with the longest contact line.
		for _, lang := range i18n.Langs {
			for _, c := range append([]Commune{{}}, b.communes...) {
				r, _ := b.SchemeAnswer(s.ID, lang, c.Name, time.Now())
				if n := len([]rune(r.Short)); n > smsMax {
					return lineError(OtherSchemesFile, findLine(mustRead(fsys, OtherSchemesFile), "[[scheme]]", i+1),
						"%s: short (%s) is %d characters with the contact of %q, more than %d", s.ID, lang, n, c.Name, smsMax)
				}
			}
		}
	}
	return nil
}

func mustRead(fsys fs.FS, file string) string {
	raw, _ := fs.ReadFile(fsys, Dir+"/"+file)
	return string(raw)
}

// OtherSchemes lists the neighbouring schemes in file order (for the understanding's words).
func (b *Base) OtherSchemes() []OtherScheme {
	out := make([]OtherScheme, 0, len(b.schemeOrder))
	for _, id := range b.schemeOrder {
		out = append(out, *b.schemes[id])
	}
	return out
}

// SchemeAnswer is the pointer for a neighbouring scheme: what it is and where to ask, with the
// commune's office as {contact} when the commune is known. ok is false for an unknown id.
func (b *Base) SchemeAnswer(id, lang, commune string, _ time.Time) (gateway.Reply, bool) {
	s := b.schemes[id]
	if s == nil {
		return gateway.Reply{}, false
	}
	lang = normLang(lang)
	t := s.text()
	vars := func(short bool) map[string]string {
		return map[string]string{"contact": b.contact(lang, commune, short)}
	}
	return gateway.Reply{
		Text:   fill(t.full(lang), vars(false)),
		Short:  i18n.Fold(fill(t.short(lang), vars(true))),
		Intent: "out_of_scope",
	}, true
}

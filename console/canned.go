package console

import (
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/BurntSushi/toml"

	"github.com/socialaid-vn/gateway/cases"
)

// CannedFile is the data file of canned replies (DATA_DIR overrides it like every data file).
const CannedFile = "console/canned_replies.toml"

// CannedReply is one ready answer staff may pick, and edit, when replying to a case.
type CannedReply struct {
	ID      string       `toml:"id"`
	Title   string       `toml:"title"`
	TitleEn string       `toml:"title_en"`
	Vi      string       `toml:"vi"`
	En      string       `toml:"en"`
	Kinds   []cases.Kind `toml:"kinds"` // empty: every kind
}

// Canned is the department's canned replies, in file order.
type Canned struct{ list []CannedReply }

var (
	cannedID          = regexp.MustCompile(`^[a-z0-9_]{1,40}$`)
	cannedPlaceholder = regexp.MustCompile(`\{[^{}]*\}`)
)

// cannedVars are the placeholders a canned reply may hold.
var cannedVars = []string{"{code}", "{commune}"}

// LoadCanned reads and checks CannedFile: a unique id of a-z 0-9 _, both titles and both
// texts, known kinds, known placeholders, at most cases.MaxText characters. A mistake is an
// error naming the file and line. A missing file is no canned replies.
func LoadCanned(fsys fs.FS) (*Canned, error) {
	raw, err := fs.ReadFile(fsys, CannedFile)
	if errors.Is(err, fs.ErrNotExist) {
		return &Canned{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", CannedFile, err)
	}
	if !utf8.Valid(raw) {
		return nil, fmt.Errorf("%s: not UTF-8 text", CannedFile)
	}
	text := string(raw)
	var f struct {
		Reply []CannedReply `toml:"reply"`
	}
	md, err := toml.Decode(text, &f)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s:%d: %s", CannedFile, pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("%s: %w", CannedFile, err)
	}
	lines := strings.Split(text, "\n")
	lineOf := func(prefix string, nth int) int {
		k := 0
		for i, l := range lines {
			if strings.HasPrefix(strings.TrimSpace(l), prefix) {
				if k++; k == nth {
					return i + 1
				}
			}
		}
		return 0
	}
	if keys := md.Undecoded(); len(keys) > 0 {
		k := keys[0]
		line := 0
		for i, l := range lines {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(l), k[len(k)-1]); ok && strings.HasPrefix(strings.TrimSpace(rest), "=") {
				line = i + 1
				break
			}
		}
		return nil, fmt.Errorf("%s:%d: unknown key %q (keys: id, title, title_en, vi, en, kinds)", CannedFile, line, k.String())
	}
	seen := map[string]bool{}
	for i := range f.Reply {
		r := &f.Reply[i]
		line := lineOf("[[reply]]", i+1)
		fail := func(format string, a ...any) error {
			return fmt.Errorf("%s:%d: reply %q: %s", CannedFile, line, r.ID, fmt.Sprintf(format, a...))
		}
		if !cannedID.MatchString(r.ID) {
			return nil, fail("id must be 1-40 of a-z, 0-9 and _")
		}
		if seen[r.ID] {
			return nil, fail("id given twice")
		}
		seen[r.ID] = true
		for name, v := range map[string]*string{"title": &r.Title, "title_en": &r.TitleEn, "vi": &r.Vi, "en": &r.En} {
			*v = strings.TrimSpace(*v)
			if *v == "" {
				return nil, fail("%s is missing (every reply needs title, title_en, vi and en)", name)
			}
		}
		if utf8.RuneCountInString(r.Title) > 80 || utf8.RuneCountInString(r.TitleEn) > 80 {
			return nil, fail("a title has more than 80 characters")
		}
		for _, k := range r.Kinds {
			if !k.Valid() {
				return nil, fail("kind %q is not one of complaint, feedback, handoff, callback", k)
			}
		}
		for _, t := range []string{r.Vi, r.En} {
			for _, ph := range cannedPlaceholder.FindAllString(t, -1) {
				if !slices.Contains(cannedVars, ph) {
					return nil, fail("unknown placeholder %s (use %s)", ph, strings.Join(cannedVars, ", "))
				}
			}
			if strings.Count(t, "{") != strings.Count(t, "}") {
				return nil, fail("a { or } is not matched")
			}
			if n := utf8.RuneCountInString(t); n > cases.MaxText {
				return nil, fail("a text has %d characters, at most %d", n, cases.MaxText)
			}
		}
	}
	return &Canned{list: f.Reply}, nil
}

// For lists the canned replies offered for a case of kind.
func (c *Canned) For(kind cases.Kind) []CannedReply {
	if c == nil {
		return nil
	}
	var out []CannedReply
	for _, r := range c.list {
		if len(r.Kinds) == 0 || slices.Contains(r.Kinds, kind) {
			out = append(out, r)
		}
	}
	return out
}

// Get returns the canned reply id.
func (c *Canned) Get(id string) (CannedReply, bool) {
	if c == nil {
		return CannedReply{}, false
	}
	for _, r := range c.list {
		if r.ID == id {
			return r, true
		}
	}
	return CannedReply{}, false
}

// Label is the reply's title in the console's language.
func (r CannedReply) Label(lang string) string {
	if lang == "en" {
		return r.TitleEn
	}
	return r.Title
}

// Text is the reply in lang (the case's language) with its placeholders filled.
func (r CannedReply) Text(lang, code, commune string) string {
	t := r.Vi
	if lang == "en" {
		t = r.En
	}
	return strings.NewReplacer("{code}", code, "{commune}", commune).Replace(t)
}

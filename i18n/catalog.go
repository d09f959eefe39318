package i18n

import (
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// Langs are the languages every user-facing text exists in; the first is the default.
var Langs = []string{"vi", "en"}

// Lang returns a supported language code for s ("vi", "en"), or "" if s names none.
// It accepts IETF tags such as "en-US" and Telegram's language_code.
func Lang(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if i := strings.IndexAny(s, "-_"); i > 0 {
		s = s[:i]
	}
	for _, l := range Langs {
		if s == l {
			return l
		}
	}
	return ""
}

// Catalog holds the user-facing messages of every language, loaded from the TOML files in
// i18n/<lang>/ (one file per part of the product: core.toml, status.toml, telegram.toml, ...).
// Keys are "<file>.<dotted path of the TOML tables>" ("core.menu.title"); texts may hold
// {placeholders}.
type Catalog struct {
	msgs map[string]map[string]string
}

// LoadCatalog reads every i18n/<lang>/*.toml from fsys. It fails, naming the file (and line for
// syntax errors), when a language folder is missing or a file is malformed, when a value is not
// a string, or when a key exists in one language and not the other.
func LoadCatalog(fsys fs.FS) (*Catalog, error) {
	c := &Catalog{msgs: map[string]map[string]string{}}
	for _, lang := range Langs {
		dir := "i18n/" + lang
		entries, err := fs.ReadDir(fsys, dir)
		if err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		flat := map[string]string{}
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".toml") {
				continue
			}
			name := dir + "/" + e.Name()
			raw, err := fs.ReadFile(fsys, name)
			if err != nil {
				return nil, fmt.Errorf("catalog: %w", err)
			}
			var tree map[string]any
			if _, err := toml.Decode(string(raw), &tree); err != nil {
				return nil, fmt.Errorf("catalog %s: %w", name, err)
			}
			if err := flatten(strings.TrimSuffix(e.Name(), ".toml"), tree, flat); err != nil {
				return nil, fmt.Errorf("catalog %s: %w", name, err)
			}
		}
		c.msgs[lang] = flat
	}
	base := c.msgs[Langs[0]]
	for _, lang := range Langs[1:] {
		other := c.msgs[lang]
		if missing := diffKeys(base, other); len(missing) > 0 {
			return nil, fmt.Errorf("catalog i18n/%s: missing keys %s (present in i18n/%s)", lang, strings.Join(missing, ", "), Langs[0])
		}
		if missing := diffKeys(other, base); len(missing) > 0 {
			return nil, fmt.Errorf("catalog i18n/%s: missing keys %s (present in i18n/%s)", Langs[0], strings.Join(missing, ", "), lang)
		}
	}
	return c, nil
}

func flatten(prefix string, tree map[string]any, out map[string]string) error {
	for k, v := range tree {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		switch v := v.(type) {
		case string:
			out[key] = strings.TrimSpace(v)
		case map[string]any:
			if err := flatten(key, v, out); err != nil {
				return err
			}
		default:
			return fmt.Errorf("key %q: value must be a string, not %T", key, v)
		}
	}
	return nil
}

func diffKeys(a, b map[string]string) []string {
	var out []string
	for k := range a {
		if _, ok := b[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// T returns the message key in lang with {name} placeholders replaced from the name/value pairs
// in args. An unknown language falls back to Vietnamese; an unknown key returns "!key!" so that a
// missing text is visible in tests rather than silently empty.
func (c *Catalog) T(lang, key string, args ...string) string {
	m, ok := c.msgs[lang]
	if !ok {
		m = c.msgs[Langs[0]]
	}
	s, ok := m[key]
	if !ok {
		return "!" + key + "!"
	}
	if len(args) >= 2 && strings.IndexByte(s, '{') >= 0 {
		pairs := make([]string, 0, len(args))
		for i := 0; i+1 < len(args); i += 2 {
			pairs = append(pairs, "{"+args[i]+"}", args[i+1])
		}
		s = strings.NewReplacer(pairs...).Replace(s)
	}
	return s
}

// Has reports whether key exists in lang.
func (c *Catalog) Has(lang, key string) bool {
	_, ok := c.msgs[lang][key]
	return ok
}

// Keys lists every key (the same in every language), sorted.
func (c *Catalog) Keys() []string {
	var out []string
	for k := range c.msgs[Langs[0]] {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

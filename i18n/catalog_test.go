package i18n_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/socialaid-vn/gateway/data"
	"github.com/socialaid-vn/gateway/i18n"
)

func TestShippedCatalogLoads(t *testing.T) {
	c, err := i18n.LoadCatalog(data.Embedded())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range c.Keys() {
		for _, l := range i18n.Langs {
			if strings.TrimSpace(c.T(l, k)) == "" {
				t.Errorf("%s: %s is empty", l, k)
			}
		}
	}
}

func TestCatalogErrors(t *testing.T) {
	cases := map[string]fstest.MapFS{
		"i18n/en": {"i18n/vi/core.toml": {Data: []byte(`a = "x"`)}},
		"i18n/vi/core.toml: toml: line 2": {
			"i18n/vi/core.toml": {Data: []byte("a = \"x\"\nb = \n")},
			"i18n/en/core.toml": {Data: []byte(`a = "x"`)},
		},
		"missing keys core.b": {
			"i18n/vi/core.toml": {Data: []byte("a = \"x\"\nb = \"y\"")},
			"i18n/en/core.toml": {Data: []byte(`a = "x"`)},
		},
		"must be a string": {
			"i18n/vi/core.toml": {Data: []byte(`a = 1`)},
			"i18n/en/core.toml": {Data: []byte(`a = 1`)},
		},
	}
	for want, fsys := range cases {
		_, err := i18n.LoadCatalog(fsys)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want error containing %q, got %v", want, err)
		}
	}
}

func TestT(t *testing.T) {
	fsys := fstest.MapFS{
		"i18n/vi/core.toml": {Data: []byte("[menu]\ntitle = \"Chào {name} ạ\"")},
		"i18n/en/core.toml": {Data: []byte("[menu]\ntitle = \"Hello {name}\"")},
	}
	c, err := i18n.LoadCatalog(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.T("vi", "core.menu.title", "name", "Ông Ba"); got != "Chào Ông Ba ạ" {
		t.Errorf("got %q", got)
	}
	if got := c.T("fr", "core.menu.title", "name", "X"); got != "Chào X ạ" {
		t.Errorf("unknown language should fall back to vi, got %q", got)
	}
	if got := c.T("en", "nope"); got != "!nope!" {
		t.Errorf("got %q", got)
	}
	if i18n.Lang("en-US") != "en" || i18n.Lang("VI") != "vi" || i18n.Lang("fr") != "" {
		t.Error("Lang mapping wrong")
	}
}

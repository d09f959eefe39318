package i18n

import (
	"bufio"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDecodeWord(t *testing.T) {
	cases := map[string]string{
		// Telex
		"tooi": "tôi", "khoong": "không", "cos": "có", "luwowng": "lương", "huwu": "hưu",
		"tuooir": "tuổi", "dduwowcj": "được", "nguwowif": "người", "bao": "", "nhieeuf": "nhiều",
		"tieefn": "tiền", "hoof": "hồ", "sows": "sớ", "xas": "xá", "phuwowngf": "phường", "hoaf": "hòa",
		"thuyr": "thủy", "ddaau": "đâu", "gif": "gì", "quys": "quý", "mej": "mẹ", "chaof": "chào",
		"giaays": "giấy", "towf": "tờ", "ddeens": "đến", "chwa": "chưa", "w": "",
		// VNI
		"d9u7o75c": "được", "to6i": "tôi", "kho6ng": "không", "co1": "có", "lu7o7ng": "lương",
		"tuo63i": "tuổi", "gio72": "giờ", "tie62n": "tiền",
		// not Telex/VNI: left alone
		"khong": "", "nguoi": "", "the": "", "has": "", "is": "", "bus": "", "tax": "",
		"this": "", "too": "", "there": "", "of": "", "covid19": "", "iphone15": "", "a1": "", "t2": "",
		"tb2025": "", "hello": "", "what": "", "allowance": "", "pension": "", "does": "", "please": "",
		"xyz": "", "tt": "", "hs": "", "dk": "", "lich": "", "huy": "", "stop": "", "sms": "", "ok": "",
		"1d": "", "85t": "", "500k": "", "dd": "", "ddd": "",
	}
	for in, want := range cases {
		got, ok := DecodeWord(in)
		if want == "" {
			if ok {
				t.Errorf("DecodeWord(%q) = %q, want it left alone", in, got)
			}
			continue
		}
		if !ok || got != want {
			t.Errorf("DecodeWord(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func TestDecodeTyping(t *testing.T) {
	cases := []struct{ in, want string }{
		{"tooi 76 tuooir khoong cos luwowng huwu", "tôi 76 tuổi không có lương hưu"},
		{"me tooi d9u7o75c bao nhieu", "me tôi được bao nhieu"},
		{"ho so gom nhung gi", "ho so gom nhung gi"},
		{"how much is the social allowance", "how much is the social allowance"},
		{"", ""},
		{"tb-2025-000123 4567", "tb-2025-000123 4567"},
	}
	for _, c := range cases {
		if got := DecodeTyping(c.in, TypingLexicon{}); got != c.want {
			t.Errorf("DecodeTyping(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	lex := TypingLexicon{Keep: func(w string) bool { return w == "cos" }, Accept: func(w string) bool { return w != "tuổi" }}
	if got := DecodeTyping("cos tooi tuooir", lex); got != "cos tôi tuooir" {
		t.Errorf("lexicon not honoured: %q", got)
	}
}

// Every text the project writes or learns from — Vietnamese with and without diacritics,
// English — must come out of DecodeTyping unchanged: decoding never breaks an ordinary word.
func TestDecodeTypingKeepsOrdinaryWords(t *testing.T) {
	root := filepath.Join("..", "data", "files")
	var texts []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.HasSuffix(p, ".jsonl") {
			sc := bufio.NewScanner(strings.NewReader(string(raw)))
			for sc.Scan() {
				var rec struct{ Text string }
				if json.Unmarshal(sc.Bytes(), &rec) == nil {
					texts = append(texts, rec.Text)
				}
			}
			return nil
		}
		texts = append(texts, strings.Split(string(raw), "\n")...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"../nlu/testdata/heldout.jsonl", "../nlu/testdata/heldout_en.jsonl"} {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		texts = append(texts, strings.Split(string(raw), "\n")...)
	}
	// The lexicon a caller would build from the same texts: every word as written (kept) and
	// every Vietnamese word with its diacritics (accepted).
	keep, accept := map[string]bool{}, map[string]bool{}
	for _, line := range texts {
		for _, w := range strings.Fields(Normalize(line)) {
			if isASCII(w) {
				keep[w] = true
			} else {
				accept[w] = true
			}
		}
	}
	lex := TypingLexicon{Keep: func(w string) bool { return keep[w] }, Accept: func(w string) bool { return accept[w] }}
	broken := map[string]string{}
	for _, line := range texts {
		for _, form := range []string{Normalize(line), Key(line)} {
			if d := DecodeTyping(form, lex); d != form {
				broken[form] = d
			}
		}
	}
	// Without the Keep guard (words never seen), the English guard and the lexicon still hold.
	noKeep := TypingLexicon{Accept: lex.Accept}
	for _, line := range texts {
		for _, w := range strings.Fields(Key(line)) {
			if d := DecodeTyping(w, noKeep); d != w {
				broken[w] = d
			}
		}
	}
	for w, d := range broken {
		t.Errorf("ordinary word %q would be decoded as %q", w, d)
	}
	if len(texts) < 1000 {
		t.Fatalf("only %d texts read", len(texts))
	}
}

func FuzzDecodeTyping(f *testing.F) {
	for _, s := range []string{"tooi", "d9u7o75c", "xoong", "ww", "dd9", "uwow", "a\xff", "tieefn caps"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := Normalize(s)
		d := DecodeTyping(n, TypingLexicon{})
		if !utf8.ValidString(d) {
			t.Fatalf("invalid UTF-8 from %q", s)
		}
		if DecodeTyping(d, TypingLexicon{}) != d {
			t.Errorf("not idempotent for %q: %q", s, d)
		}
		if len(strings.Fields(d)) != len(strings.Fields(n)) {
			t.Errorf("word count changed for %q: %q → %q", s, n, d)
		}
	})
}

func TestDetectLanguage(t *testing.T) {
	cases := map[string]string{
		"how much is the social allowance":      "en",
		"hello":                                 "en",
		"my mother is 82 and has no pension":    "en",
		"what papers do I need":                 "en",
		"xin chào":                              "vi",
		"me toi 82 tuoi ko co luong huu":        "vi",
		"khi nao nhan tien":                     "vi",
		"hello mọi người ơi":                    "vi",
		"hello moi nguoi oi":                    "vi",
		"ok":                                    "",
		"hi":                                    "",
		"TT TB-2025-000123 4567":                "",
		"4567":                                  "",
		"":                                      "",
		"alo":                                   "",
		"tooi muoosn hoir":                      "vi",
		"can i get the allowance for my father": "en",
	}
	for in, want := range cases {
		if got := DetectLanguage(in); got != want {
			t.Errorf("DetectLanguage(%q) = %q, want %q", in, got, want)
		}
	}
}

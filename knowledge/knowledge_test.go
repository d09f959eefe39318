package knowledge_test

import (
	"io/fs"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/socialaid-vn/gateway/data"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/knowledge"
)

// now is a day after the 2024 level and the 2025 social pension took effect.
var now = time.Date(2025, 9, 15, 9, 0, 0, 0, time.UTC)

func load(t testing.TB) *knowledge.Base {
	t.Helper()
	b, err := knowledge.Load(data.Embedded())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withFiles is the shipped data with some knowledge files replaced, as a DATA_DIR would.
func withFiles(t testing.TB, files map[string]string) fs.FS {
	t.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(data.Embedded(), "knowledge", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := fs.ReadFile(data.Embedded(), path)
		m[path] = &fstest.MapFile{Data: raw}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		m["knowledge/"+name] = &fstest.MapFile{Data: []byte(content)}
	}
	return m
}

func shipped(t testing.TB, name string) string {
	t.Helper()
	raw, err := fs.ReadFile(data.Embedded(), "knowledge/"+name)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func TestEveryIntentAnsweredWithSource(t *testing.T) {
	b := load(t)
	leftover := regexp.MustCompile(`\{[a-z_:*0-9.]+\}`)
	for _, intent := range knowledge.Intents {
		for _, cat := range append([]string{""}, knowledge.Categories...) {
			for _, commune := range []string{"", "Vũ Phúc", "nowhere"} {
				for _, lang := range []string{"vi", "en"} {
					ents := map[string]string{"category": cat, "commune": commune}
					r, ok := b.Answer(intent, lang, ents, now)
					name := intent + "/" + cat + "/" + commune + "/" + lang
					if !ok {
						t.Fatalf("%s: no answer", name)
					}
					if r.Intent != intent {
						t.Errorf("%s: intent %q", name, r.Intent)
					}
					src, date := "Nguồn: ", "cập nhật 01/07/2025"
					smsSrc := "Nguon: "
					if lang == "en" {
						src, date, smsSrc = "Source: ", "reviewed 1 July 2025", "Source: "
					}
					if !strings.Contains(r.Text, src) || !strings.Contains(r.Text, date) {
						t.Errorf("%s: text lacks source or review date:\n%s", name, r.Text)
					}
					if n := len([]rune(r.Text)); n > 1000 {
						t.Errorf("%s: text is %d characters", name, n)
					}
					folded := i18n.Fold(r.Short)
					if r.Short == "" || len([]rune(folded)) > 300 || !strings.Contains(folded, smsSrc) {
						t.Errorf("%s: short (%d) %q", name, len([]rune(folded)), folded)
					}
					if m := leftover.FindString(r.Text + r.Short); m != "" {
						t.Errorf("%s: placeholder %s not replaced", name, m)
					}
				}
			}
		}
	}
	for _, intent := range []string{"greeting", "application_status", "out_of_scope", ""} {
		if _, ok := b.Answer(intent, "vi", nil, now); ok {
			t.Errorf("%q should not be answered here", intent)
		}
	}
}

func TestAnswerAmountsAndContacts(t *testing.T) {
	b := load(t)
	cases := []struct {
		intent, lang string
		ents         map[string]string
		want         []string
	}{
		{"benefit_amount", "vi", nil, []string{"500.000 đồng (từ 01/07/2024, Nghị định 76/2024/NĐ-CP)", "1.250.000 đồng"}},
		{"benefit_amount", "en", nil, []string{"500,000 VND (since 1 July 2024, Decree 76/2024/NĐ-CP)", "1,250,000 VND"}},
		{"benefit_amount", "vi", map[string]string{"category": "disability"}, []string{"Khuyết tật đặc biệt nặng: 1.000.000 đồng", "Khuyết tật nặng: 750.000 đồng"}},
		{"benefit_amount", "vi", map[string]string{"age": "81"}, []string{"người cao tuổi", "Từ 80 tuổi, không có lương hưu: 500.000 đồng"}},
		{"benefit_amount", "vi", map[string]string{"category": "child"}, []string{"1.250.000 đồng", "chưa được xác nhận"}},
		{"benefit_amount", "en", map[string]string{"category": "single_parent"}, []string{"500,000 VND a month for each child", "coefficient 1.0"}},
		{"documents", "vi", map[string]string{"category": "disability"}, []string{"Mẫu 1đ", "10 ngày làm việc", "Mẫu 2a"}},
		{"documents", "vi", map[string]string{"category": "elderly"}, []string{"Mẫu 1d", "Mẫu 01"}},
		{"documents", "en", nil, []string{"1a", "1b", "1c", "1d", "1đ", "10 working days", "month the commune chairman signs"}},
		{"funeral_support", "vi", nil, []string{"10.000.000 đồng", "hỏi lại UBND xã"}},
		{"funeral_support", "en", nil, []string{"10,000,000 VND", "check the exact amount with your commune"}},
		{"contact_staff", "vi", map[string]string{"commune": "vu phuc"}, []string{"Bộ phận Một cửa UBND phường Vũ Phúc", "0227 3000 101", "T2-T6"}},
		{"contact_staff", "en", map[string]string{"commune": "VŨ PHÚC"}, []string{"0227 3000 101", "Mon-Fri"}},
		{"contact_staff", "vi", map[string]string{"commune": "Hà Nội"}, []string{"Bộ phận Một cửa UBND xã/phường nơi Ông/Bà cư trú"}},
		{"complaint", "vi", map[string]string{"commune": "Kiến Xương"}, []string{"khiếu nại", "0227 3000 105"}},
		{"payment", "en", nil, []string{"every month", "Post Office", "bank"}},
	}
	for _, c := range cases {
		r, ok := b.Answer(c.intent, c.lang, c.ents, now)
		if !ok {
			t.Fatalf("%s: no answer", c.intent)
		}
		for _, w := range c.want {
			if !strings.Contains(r.Text, w) {
				t.Errorf("%s %s %v: lacks %q:\n%s", c.intent, c.lang, c.ents, w, r.Text)
			}
		}
	}
	// The SMS version of a commune contact is folded and keeps the phone number.
	r, _ := b.Answer("contact_staff", "vi", map[string]string{"commune": "Đông Hưng"}, now)
	if !strings.Contains(r.Short, "Bo phan Mot cua UBND xa Dong Hung, DT 0227 3000 106") {
		t.Errorf("short contact: %q", r.Short)
	}
}

func TestStandardLevelHistory(t *testing.T) {
	b := load(t)
	cases := []struct {
		on   time.Time
		want int64
	}{
		{time.Date(2021, 7, 1, 0, 0, 0, 0, time.UTC), 360000},
		{time.Date(2024, 6, 30, 12, 0, 0, 0, time.UTC), 360000},
		{time.Date(2024, 6, 30, 17, 30, 0, 0, time.UTC), 500000}, // 00:30 on 1 July in Vietnam
		{time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), 500000},
		{time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC), 360000}, // before the first line: the first line
	}
	for _, c := range cases {
		if got := b.StandardLevel(c.on); got.Amount != c.want {
			t.Errorf("%s: %d, want %d", c.on, got.Amount, c.want)
		}
	}
	if l := b.StandardLevel(now); l.Source != "Nghị định 76/2024/NĐ-CP" || l.From.Format("2006-01-02") != "2024-07-01" {
		t.Errorf("level %+v", l)
	}
	r, _ := b.Answer("benefit_amount", "vi", nil, time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC))
	if !strings.Contains(r.Text, "360.000 đồng") || !strings.Contains(r.Text, "900.000 đồng") {
		t.Errorf("amounts before July 2024 should use 360.000:\n%s", r.Text)
	}
}

// Changing the standard level in the data directory changes every amount the gateway states,
// with no code change.
func TestNewLevelIsOneLine(t *testing.T) {
	levels := shipped(t, "levels.csv") + "2026-07-01,540000,Nghị định 999/2026/NĐ-CP,Decree 999/2026/NĐ-CP,ND 999/2026\n"
	b, err := knowledge.Load(withFiles(t, map[string]string{"levels.csv": levels}))
	if err != nil {
		t.Fatal(err)
	}
	before := time.Date(2026, 6, 30, 12, 0, 0, 0, time.UTC)
	after := time.Date(2026, 7, 1, 8, 0, 0, 0, time.UTC)
	if b.StandardLevel(after).Amount != 540000 || b.StandardLevel(before).Amount != 500000 {
		t.Fatalf("levels: %v / %v", b.StandardLevel(before), b.StandardLevel(after))
	}
	r, _ := b.Answer("benefit_amount", "vi", map[string]string{"category": "disability"}, after)
	for _, w := range []string{"mức chuẩn 540.000 đồng", "1.080.000 đồng", "810.000 đồng", "1.350.000 đồng", "Nghị định 999/2026/NĐ-CP"} {
		if !strings.Contains(r.Text, w) {
			t.Errorf("after: lacks %q:\n%s", w, r.Text)
		}
	}
	if !strings.Contains(r.Short, "1.080.000 dong") || !strings.Contains(r.Short, "ND 999/2026") {
		t.Errorf("short after: %q", r.Short)
	}
	r, _ = b.Answer("benefit_amount", "en", nil, before)
	if !strings.Contains(r.Text, "500,000 VND") || strings.Contains(r.Text, "540,000") {
		t.Errorf("before: %s", r.Text)
	}
	r, _ = b.Answer("funeral_support", "en", nil, after)
	if !strings.Contains(r.Text, "10,800,000 VND") {
		t.Errorf("funeral: %s", r.Text)
	}
	for _, c := range []struct {
		lang string
		want string
	}{{"vi", "= 1.350.000 đồng mỗi tháng"}, {"en", "= 1,350,000 VND a month"}} {
		v, _ := converse(t, b, screenCase{lang: c.lang, entities: map[string]string{"category": "disability", "age": "70"},
			answers: map[string]string{"disability": "dac biet nang"}}, after)
		if !strings.Contains(v.Text, c.want) {
			t.Errorf("screener after the new level: lacks %q:\n%s", c.want, v.Text)
		}
	}
	v, _ := converse(t, b, screenCase{lang: "vi", entities: map[string]string{"category": "single_parent"},
		answers: map[string]string{"household": "ngheo", "children": "2"}}, after)
	if !strings.Contains(v.Text, "= 1.080.000 đồng") || !strings.Contains(v.Short, "1.080.000 dong") {
		t.Errorf("single parent after the new level:\n%s\n%s", v.Text, v.Short)
	}
}

func TestCommunes(t *testing.T) {
	b := load(t)
	cs := b.Communes()
	if len(cs) != 13 || cs[0].Name != "Vũ Phúc" || cs[0].Kind != "phuong" || cs[0].Province != "Hưng Yên" {
		t.Fatalf("communes: %d, first %+v", len(cs), cs[0])
	}
	cs[0].Name = "changed"
	if b.Communes()[0].Name != "Vũ Phúc" {
		t.Error("Communes must return a copy")
	}
	for _, name := range []string{"Vũ Phúc", "vu phuc", "VU PHUC", "Phường Vũ Phúc", "xa dong hung", "  đông   hưng "} {
		if _, ok := b.Commune(name); !ok {
			t.Errorf("%q not found", name)
		}
	}
	for _, name := range []string{"", "Vũ", "Hà Nội"} {
		if _, ok := b.Commune(name); ok {
			t.Errorf("%q found", name)
		}
	}
	if got := b.ContactLine("en", "tien hai"); !strings.Contains(got, "0227 3000 112") || !strings.Contains(got, "Mon-Fri") {
		t.Errorf("contact line %q", got)
	}
	if got := b.ContactLine("vi", ""); !strings.Contains(got, "Bộ phận Một cửa") {
		t.Errorf("general contact line %q", got)
	}
}

func TestValidationErrorsNameFileAndLine(t *testing.T) {
	levelsHead := "from,amount,source,source_en,source_short\n"
	answers := shipped(t, "answers.toml")
	groups := shipped(t, "groups.csv")
	groupsLine := strings.Count(groups, "\n") + 1 // the line of a row appended to groups.csv
	cases := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"bad date", map[string]string{"levels.csv": levelsHead + "2021-07-01,360000,a,b,c\n2024-13-01,500000,a,b,c\n"}, "knowledge/levels.csv:3: bad date"},
		{"bad amount", map[string]string{"levels.csv": "# comment\n" + levelsHead + "2021-07-01,36O000,a,b,c\n"}, "knowledge/levels.csv:3: bad amount"},
		{"same date twice", map[string]string{"levels.csv": levelsHead + "2021-07-01,1,a,b,c\n2021-07-01,2,a,b,c\n"}, "knowledge/levels.csv:3: a level from 2021-07-01 is already on line 2"},
		{"missing source", map[string]string{"levels.csv": levelsHead + "2021-07-01,360000,a,,c\n"}, "knowledge/levels.csv:2: empty source_en"},
		{"no level", map[string]string{"social_pension.csv": levelsHead}, "knowledge/social_pension.csv: no level"},
		{"unknown column", map[string]string{"levels.csv": "from,amount,source,source_en,source_short,note\n"}, `knowledge/levels.csv:1: unknown column "note"`},
		{"field count", map[string]string{"levels.csv": levelsHead + "2021-07-01,360,000,a,b,c\n"}, "knowledge/levels.csv:2: 6 fields"},
		{"unknown group", map[string]string{"groups.csv": groups + "x,allowance,5,martian,,,,1.0,,yes,1d,a,b,c,d\n"}, `knowledge/groups.csv:` + strconv.Itoa(groupsLine) + `: x: unknown category "martian"`},
		{"unknown condition", map[string]string{"groups.csv": groups + "x,allowance,5,elderly,,,household=rich,1.0,,yes,1d,a,b,c,d\n"}, `: x: condition "household=rich": unknown answer "rich"`},
		{"bad coefficient", map[string]string{"groups.csv": groups + "x,allowance,5,elderly,,,,1.555,,yes,1d,a,b,c,d\n"}, `x: bad coefficient "1.555"`},
		{"bad ages", map[string]string{"groups.csv": groups + "x,allowance,5,elderly,80,60,,1.0,,yes,1d,a,b,c,d\n"}, `x: age_from 80 is not below age_under 60`},
		{"missing en text", map[string]string{"answers.toml": strings.Replace(answers, "en = \"\"\"\nThe monthly social allowance is for:", "xen = \"\"\"\nThe monthly social allowance is for:", 1)}, `knowledge/answers.toml:` + strconv.Itoa(lineOf(answers, "en = \"\"\"\nThe monthly social allowance is for:")) + `: unknown key "answer.xen"`},
		{"empty en text", map[string]string{"answers.toml": answers + "\n[[answer]]\nintent = \"eligibility\"\ncategory = \"hiv\"\nsources = [\"nd20\"]\nreviewed = 2025-07-01\nvi = \"x\"\nshort = \"x\"\nshort_en = \"x\"\n"}, "eligibility.hiv: empty en"},
		{"unknown placeholder group", map[string]string{"answers.toml": strings.Replace(answers, "{amount:elderly_80_no_pension}", "{amount:nope}", 1)}, `unknown group "nope"`},
		{"unknown placeholder", map[string]string{"answers.toml": strings.Replace(answers, "là {standard} (từ", "là {standart} (từ", 1)}, `unknown placeholder {standart}`},
		{"bad review date", map[string]string{"answers.toml": strings.Replace(answers, "reviewed = 2025-07-01", `reviewed = "2025-31-01"`, 1)}, `bad date "2025-31-01"`},
		{"unknown source", map[string]string{"answers.toml": strings.Replace(answers, `sources = ["nd20", "nd176"]`, `sources = ["nd21"]`, 1)}, `knowledge/answers.toml:` + strconv.Itoa(lineOf(answers, "[[answer]]")) + `: eligibility: unknown source "nd21"`},
		{"short too long", map[string]string{"answers.toml": strings.Replace(answers, `short = "Gap can bo`, `short = "`+strings.Repeat("x", 280)+` Gap can bo`, 1)}, "short (vi) is"},
		{"toml syntax", map[string]string{"texts.toml": "[money]\nvi = \"{n}\nen = 1\n"}, "knowledge/texts.toml:2:"},
		{"missing text", map[string]string{"texts.toml": strings.Replace(shipped(t, "texts.toml"), "[reask]", "[reaks]", 1)}, "unknown text [reaks]"},
		{"duplicate commune", map[string]string{"communes.csv": shipped(t, "communes.csv") + "vu phuc,xa,Hưng Yên,o,a,1,h,h\n"}, "knowledge/communes.csv:20: vu phuc: the name is already used by Vũ Phúc"},
		{"choice read wrongly", map[string]string{"questions.toml": strings.Replace(shipped(t, "questions.toml"), `vi = "Hộ cận nghèo"`, `vi = "Hộ nghèo"`, 1)}, `the answer "Hộ nghèo" is read as ""`},
		{"scheme bad id", map[string]string{"other_schemes.toml": strings.Replace(shipped(t, "other_schemes.toml"), `id = "bhxh"`, `id = "BHXH!"`, 1)},
			`knowledge/other_schemes.toml:` + strconv.Itoa(lineOf(shipped(t, "other_schemes.toml"), "[[scheme]]\nid = \"bhxh\"")) + `: bad id "BHXH!"`},
		{"scheme word twice", map[string]string{"other_schemes.toml": strings.Replace(shipped(t, "other_schemes.toml"), `words = ["lương hưu",`, `words = ["thương binh", "lương hưu",`, 1)},
			`bhxh: word "thương binh" is also a word of nguoi_co_cong`},
		{"scheme unknown placeholder", map[string]string{"other_schemes.toml": strings.Replace(shipped(t, "other_schemes.toml"), "Liên hệ: {contact}", "Liên hệ: {commune}", 1)},
			`nguoi_co_cong: only the placeholder {contact} is known`},
		{"scheme empty short", map[string]string{"other_schemes.toml": shipped(t, "other_schemes.toml") + "\n[[scheme]]\nid = \"x\"\nname = \"x\"\nname_en = \"x\"\nwords = [\"xyz\"]\nvi = \"x\"\nen = \"x\"\nshort_en = \"x\"\n"},
			`x: empty short`},
		{"scheme short too long", map[string]string{"other_schemes.toml": strings.Replace(shipped(t, "other_schemes.toml"), `short = "Vay von`, `short = "`+strings.Repeat("x", 290)+` Vay von`, 1)},
			`vay_von: short (vi) is`},
		{"scheme unknown key", map[string]string{"other_schemes.toml": strings.Replace(shipped(t, "other_schemes.toml"), `name_en = "Policy loans"`, `nmae_en = "Policy loans"`, 1)},
			`unknown key "scheme.nmae_en"`},
		{"topic without words", map[string]string{"answers.toml": answers + "\n[[answer]]\nintent = \"payment\"\ntopic = \"x\"\nsources = [\"nd20\"]\nreviewed = 2025-07-01\nvi = \"x\"\nen = \"x\"\nshort = \"x\"\nshort_en = \"x\"\n"},
			`topic "x" has no words`},
		{"group without coefficient", map[string]string{"groups.csv": groups + "x,allowance,5,elderly,,,,,,yes,1d,a,b,c,d\n"}, `x: bad coefficient ""`},
		{"missing file", map[string]string{}, ""},
	}
	for _, c := range cases {
		fsys := withFiles(t, c.files)
		if c.name == "missing file" {
			delete(fsys.(fstest.MapFS), "knowledge/sources.csv")
			c.want = "knowledge/sources.csv"
		}
		_, err := knowledge.Load(fsys)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: want error containing %q, got %v", c.name, c.want, err)
		}
	}
}

// lineOf is the 1-based line where s first occurs in content.
func lineOf(content, s string) int {
	return strings.Count(content[:strings.Index(content, s)], "\n") + 1
}

func TestDataDirOverride(t *testing.T) {
	dir := t.TempDir()
	fsys, err := data.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := knowledge.Load(fsys); err != nil {
		t.Fatalf("empty DATA_DIR must load the embedded knowledge: %v", err)
	}
}

func BenchmarkLoad(b *testing.B) {
	for b.Loop() {
		if _, err := knowledge.Load(data.Embedded()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAnswer(b *testing.B) {
	kb := load(b)
	ents := map[string]string{"category": "disability", "commune": "Vũ Phúc"}
	for b.Loop() {
		kb.Answer("benefit_amount", "vi", ents, now)
	}
}

func BenchmarkScreenerConversation(b *testing.B) {
	kb := load(b)
	for b.Loop() {
		s := kb.StartScreening(nil, "mẹ tôi 82 tuổi không có lương hưu")
		kb.Step(s, "", "vi", now)
		kb.Step(s, "không", "vi", now)
		if _, done, _ := kb.Step(s, "không", "vi", now); !done {
			b.Fatal("not done")
		}
	}
}

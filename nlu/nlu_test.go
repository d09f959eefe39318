package nlu

import (
	"maps"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"unicode/utf8"

	"github.com/socialaid-vn/gateway/data"
)

var shared struct {
	once sync.Once
	c    *Classifier
}

// classifier returns one classifier trained on the embedded data, shared by the tests.
func classifier(t testing.TB) *Classifier {
	shared.once.Do(func() { shared.c = loadEmbedded(t) })
	if shared.c == nil {
		t.Fatal("training failed")
	}
	return shared.c
}

func TestIntentsContract(t *testing.T) {
	if len(Intents) != 17 || Intents[len(Intents)-1] != OutOfScope {
		t.Fatalf("Intents = %v", Intents)
	}
	seen := map[string]bool{}
	for _, s := range Intents {
		if seen[s] {
			t.Errorf("duplicate intent %q", s)
		}
		seen[s] = true
	}
}

func TestKeywordGrammar(t *testing.T) {
	c := classifier(t)
	cases := []struct {
		text, intent string
		ents         map[string]string
	}{
		{"TT TB-2025-000123 4567", "application_status", map[string]string{"application_code": "TB-2025-000123", "id_last4": "4567"}},
		{"tt tb2025000123 4567", "application_status", map[string]string{"application_code": "TB2025000123", "id_last4": "4567"}},
		{"TRACUU TB-2025-000123", "application_status", map[string]string{"application_code": "TB-2025-000123"}},
		{"Tra cứu TB-2025-000123 4567", "application_status", map[string]string{"application_code": "TB-2025-000123", "id_last4": "4567"}},
		{"tt", "application_status", map[string]string{}},
		{"TT 4567 TB-2025-000123", "application_status", map[string]string{"application_code": "TB-2025-000123", "id_last4": "4567"}},
		{"LICH", "payment", map[string]string{}},
		{"Lịch Vũ Phúc", "payment", map[string]string{"commune": "Vũ Phúc"}},
		{"LICH Vu Phuc", "payment", map[string]string{"commune": "Vũ Phúc"}},
		{"lich xa kien xuong", "payment", map[string]string{"commune": "Kiến Xương"}},
		{"LICH Kien Xuog", "payment", map[string]string{"commune": "Kiến Xương"}},
		{"HS", "documents", map[string]string{}},
		{"HS NKT", "documents", map[string]string{"category": "disability"}},
		{"hs nct", "documents", map[string]string{"category": "elderly"}},
		{"HS TE", "documents", map[string]string{"category": "child"}},
		{"HS DT", "documents", map[string]string{"category": "single_parent"}},
		{"HS HIV", "documents", map[string]string{"category": "hiv"}},
		{"hs khuyết tật", "documents", map[string]string{"category": "disability"}},
		{"hs của tôi duyệt chưa", "application_status", map[string]string{}},
		{"DK", "subscribe", map[string]string{}},
		{"dk Vu Phuc", "subscribe", map[string]string{"commune": "Vũ Phúc"}},
		{"ĐK xã Đông Hợp", "subscribe", map[string]string{"commune": "Đông Hợp"}},
		{"dk nhận thông báo", "subscribe", map[string]string{}},
		{"HUY", "unsubscribe", map[string]string{}},
		{"Hủy", "unsubscribe", map[string]string{}},
		{"stop", "unsubscribe", map[string]string{}},
		{"HUY Tien Hai", "unsubscribe", map[string]string{"commune": "Tiền Hải"}},
		{"HD", "help", map[string]string{}},
		{"trogiup", "help", map[string]string{}},
		{"Help", "help", map[string]string{}},
		{"TB-2025-000123 4567", "application_status", map[string]string{"application_code": "TB-2025-000123", "id_last4": "4567"}},
	}
	for _, tc := range cases {
		r := c.Classify(tc.text)
		if r.Intent != tc.intent {
			t.Errorf("Classify(%q).Intent = %s (%.2f), want %s", tc.text, r.Intent, r.Confidence, tc.intent)
		}
		if !maps.Equal(r.Entities, tc.ents) {
			t.Errorf("Classify(%q).Entities = %v, want %v", tc.text, r.Entities, tc.ents)
		}
	}
}

func TestEntities(t *testing.T) {
	c := classifier(t)
	cases := []struct {
		text string
		want map[string]string
	}{
		{"4567", map[string]string{"id_last4": "4567"}},
		{" 4567 ", map[string]string{"id_last4": "4567"}},
		{"2025", map[string]string{"id_last4": "2025"}},
		{"hồ sơ nộp năm 2025 chưa có kết quả", map[string]string{}},
		{"ma ho so tb-2025-000123, 4 so cuoi cccd 2019", map[string]string{"application_code": "TB-2025-000123", "id_last4": "2019"}},
		{"số cuối căn cước 0912", map[string]string{"id_last4": "0912"}},
		{"gọi 0227 3000 101", map[string]string{}},
		// Codes have the shape of the department's (the demo's TB-2025-000123): others are not codes.
		{"mã hồ sơ ab12/2025.x", map[string]string{}},
		{"mã hồ sơ tb.2025.000999", map[string]string{"application_code": "TB.2025.000999"}},
		{"được 500k hay 1tr5", map[string]string{}},
		{"nghị định 20/2021/nđ-cp và 20/2021/nd-cp", map[string]string{}},
		{"làm việc t2-t6", map[string]string{}},
		{"mẹ tôi 81 tuổi", map[string]string{"age": "81", "category": ""}},
		{"bố em 85t", map[string]string{"age": "85"}},
		{"ông tôi tám mươi lăm tuổi rồi", map[string]string{"age": "85"}},
		{"bà 90tuoi", map[string]string{"age": "90"}},
		{"người cao tuổi ở xã Vũ Phúc", map[string]string{"category": "elderly", "commune": "Vũ Phúc"}},
		{"nguoi khuyet tat o vu phuc", map[string]string{"category": "disability", "commune": "Vũ Phúc"}},
		{"NKT", map[string]string{"category": "disability"}},
		{"cháu mồ côi", map[string]string{"category": "child"}},
		{"mẹ đơn thân", map[string]string{"category": "single_parent"}},
		{"nuôi con một mình", map[string]string{"category": "single_parent"}},
		{"người nhiễm HIV", map[string]string{"category": "hiv"}},
		{"phuong tran lam", map[string]string{"commune": "Trần Lãm"}},
		{"xã thái thuỵ", map[string]string{"commune": "Thái Thụy"}},
		{"xa thai thuj", map[string]string{"commune": "Thái Thụy"}},
		{"diem dien", map[string]string{"commune": "Diêm Điền"}},
		{"vuphuc", map[string]string{"commune": "Vũ Phúc"}},
		{"nhận tiền hay chuyển khoản", map[string]string{}},
		{"Đông Hưng và Đông Hợp", map[string]string{"commune": "Đông Hưng"}},
	}
	for _, tc := range cases {
		want := map[string]string{}
		for k, v := range tc.want {
			if v != "" {
				want[k] = v
			}
		}
		if got := c.Entities(tc.text); !maps.Equal(got, want) {
			t.Errorf("Entities(%q) = %v, want %v", tc.text, got, want)
		}
	}
}

func TestUnderstandsVariants(t *testing.T) {
	c := classifier(t)
	cases := []struct{ text, intent string }{
		{"mẹ tôi 82 tuổi không có lương hưu có được hưởng không", "eligibility"},
		{"me toi 82 tuoi ko co luong huu co dc huong k", "eligibility"},
		{"mee toi 82 tuoi khong co luong huuu co duocc huong khong", "eligibility"}, // typos
		{"người khuyết tật nặng được bao nhiêu tiền", "benefit_amount"},
		{"nguoi khuyet tat nang dc bn tien", "benefit_amount"},
		{"ngày mấy phát tiền", "payment"},
		{"hồ sơ gồm những gì", "documents"},
		{"hồ sơ của tôi duyệt chưa", "application_status"},
		{"đăng ký nhận thông báo", "subscribe"},
		{"đừng nhắn nữa", "unsubscribe"},
		{"tôi muốn khiếu nại", "complaint"},
		{"cho xin số tổng đài", "contact_staff"},
		{"English please", "change_language"},
		{"tiếng Việt", "change_language"},
		{"cảm ơn", "thanks"},
		{"thẻ bhyt cho người khuyết tật", "health_insurance"},
		{"hỗ trợ mai táng bao nhiêu", "funeral_support"},
		{"chuyển hộ khẩu sang xã khác thì sao", "relocation"},
		{"xin chào", "greeting"},
		{"menu", "help"},
		{"giá vàng hôm nay", "out_of_scope"},
		{"làm hộ chiếu ở đâu", "out_of_scope"},
	}
	for _, tc := range cases {
		if r := c.Classify(tc.text); r.Intent != tc.intent {
			t.Errorf("Classify(%q) = %s (%.2f), want %s", tc.text, r.Intent, r.Confidence, tc.intent)
		}
	}
}

func TestRobustness(t *testing.T) {
	c := classifier(t)
	huge := strings.Repeat("hồ sơ gồm những gì ", 100*1024/20)
	cases := []string{"", "   ", "\xff\xfe\xfd", "hồ sơ\xffgồm gì", huge, "😀😀😀", "🙏", "\u0301\u0300", "----", strings.Repeat("a", 100*1024),
		strings.Repeat("9", 5000), strings.Repeat("tb-2025-", 1000), "\x00\x01"}
	for _, in := range cases {
		r := c.Classify(in)
		if r.Entities == nil {
			t.Errorf("Classify(%.20q): nil entities", in)
		}
		if r.Confidence < 0 || r.Confidence > 1 {
			t.Errorf("Classify(%.20q): confidence %v", in, r.Confidence)
		}
		if len(r.Text) > MaxInput || !utf8.ValidString(r.Text) && utf8.ValidString(in) {
			t.Errorf("Classify(%.20q): text of %d bytes", in, len(r.Text))
		}
		if _, ok := intentIndex[r.Intent]; !ok {
			t.Errorf("Classify(%.20q): intent %q", in, r.Intent)
		}
		if c.Entities(in) == nil {
			t.Errorf("Entities(%.20q) = nil", in)
		}
	}
	for _, in := range []string{"", "😀😀😀", "asdkjh qwpoeiu zxmcnb"} {
		if r := c.Classify(in); r.Intent != OutOfScope {
			t.Errorf("Classify(%q) = %s, want out_of_scope", in, r.Intent)
		}
	}
	if r := c.Classify(""); !r.Unsure {
		t.Error("empty message should be unsure")
	}
}

func TestConcurrent(t *testing.T) {
	c := classifier(t)
	msgs := []string{"TT TB-2025-000123 4567", "mẹ tôi 80 tuổi có được hưởng không", "LICH Vu Phuc", "giá vàng", "cảm ơn"}
	want := make([]Result, len(msgs))
	for i, m := range msgs {
		want[i] = c.Classify(m)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 200; n++ {
				i := (g + n) % len(msgs)
				r := c.Classify(msgs[i])
				if r.Intent != want[i].Intent || r.Confidence != want[i].Confidence || !maps.Equal(r.Entities, want[i].Entities) {
					select {
					case errs <- msgs[i]:
					default:
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for m := range errs {
		t.Errorf("concurrent Classify(%q) differs", m)
	}
}

func TestLoadErrors(t *testing.T) {
	good := `{"text":"xin chào","intent":"greeting"}` + "\n"
	all := func(extra string) fstest.MapFS {
		var b strings.Builder
		for _, in := range Intents {
			b.WriteString(`{"text":"vi du ` + in + `","intent":"` + in + `"}` + "\n")
		}
		return fstest.MapFS{
			"nlu/a.jsonl": {Data: []byte(b.String())},
			"nlu/b.jsonl": {Data: []byte(good + extra)},
		}
	}
	cases := []struct {
		name string
		fs   fstest.MapFS
		want string // substring of the error; "" means no error
	}{
		{"ok", all("\n# comment\n"), ""},
		{"bad json", all("{oops\n"), "b.jsonl:2: bad JSON"},
		{"unknown intent", all(`{"text":"x","intent":"weather"}`), `b.jsonl:2: unknown intent "weather"`},
		{"empty text", all(`{"text":"  ","intent":"greeting"}`), "b.jsonl:2: empty text"},
		{"missing text", all(`{"intent":"greeting"}`), "b.jsonl:2: empty text"},
		{"no files", fstest.MapFS{"other/x.jsonl": {Data: []byte(good)}}, "no training files"},
		{"missing intent", fstest.MapFS{"nlu/x.jsonl": {Data: []byte(good)}}, "no training example for intent"},
	}
	for _, tc := range cases {
		c, err := Load(tc.fs, Options{})
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want == "" && c == nil:
			t.Errorf("%s: nil classifier", tc.name)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestTypoCorrection(t *testing.T) {
	c := classifier(t)
	w := newWork(len(Intents))
	cases := map[string]string{
		"khong": "khong", "khogn": "khong", "khongg": "khong", "duocc": "duoc", "nguoii": "nguoi",
		"qwzx": "qwzx", "abc": "abc",
	}
	for in, want := range cases {
		if got := c.text.correct(in, w); got != want {
			t.Errorf("correct(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWithin1(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		{"vuphuc", "vuphuc", true}, {"vuphuk", "vuphuc", true}, {"vuphc", "vuphuc", true},
		{"vuphuuc", "vuphuc", true}, {"uvphuc", "vuphuc", true}, {"vuthu", "vuphuc", false},
		{"donghop", "donghung", false}, {"", "a", true}, {"ab", "ba", true}, {"abc", "cab", false},
	}
	for _, tc := range cases {
		if got := within1(tc.a, tc.b); got != tc.want {
			t.Errorf("within1(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}

// A bare yes/no carries no question: it must never be taken for an intent (a bare "no" once
// unsubscribed people, "nope" was read as documents). Keywords still win.
func TestBareAnswersAreNotUnderstood(t *testing.T) {
	c := classifier(t)
	for _, s := range []string{"no", "nope", "không", "ko", "không ạ", "yes", "có", "có ạ", "chưa", "dạ", "yes please"} {
		if r := c.Classify(s); !r.Unsure || r.Intent != OutOfScope {
			t.Errorf("%q: %s (%.2f), want not understood", s, r.Intent, r.Confidence)
		}
	}
	for s, want := range map[string]string{"HUY": "unsubscribe", "stop": "unsubscribe", "ok": "thanks", "no thanks": "thanks"} {
		if r := c.Classify(s); r.Intent != want {
			t.Errorf("%q: %s, want %s", s, r.Intent, want)
		}
	}
}

func TestEnglishAges(t *testing.T) {
	c := classifier(t)
	cases := map[string]string{
		"my father is 85 and has no pension": "85",
		"my mom is 82 years old":             "82",
		"grandma aged 90":                    "90",
		"85yo no pension":                    "85",
		"i am 70 and poor":                   "70",
		"he is 500":                          "",
		"we paid 85 for the papers":          "",
	}
	for text, want := range cases {
		e := c.Entities(text)
		if e["age"] != want {
			t.Errorf("%q: age %q, want %q", text, e["age"], want)
		}
		if want != "" && e["application_code"] != "" {
			t.Errorf("%q: an age taken for an application code %q", text, e["application_code"])
		}
	}
}

// Application codes are recognised only when they look like the department's: the shapes of
// the imported codes, or the configured pattern. Other words of letters and digits are not codes.
func TestCodesHaveTheDepartmentsShape(t *testing.T) {
	c, err := Load(data.Embedded(), Options{Communes: demoCommunes})
	if err != nil {
		t.Fatal(err)
	}
	c.SetCodeShapes([]string{"TB#10"})
	for _, s := range []string{"GIO72", "COVID19", "IPHONE15", "xe 7 cho ford ranger2024", "ma ho so ab12"} {
		r := c.Classify(s)
		if r.Entities[EntityApplicationCode] != "" || r.Intent == "application_status" && r.Confidence == 0.9 {
			t.Errorf("%q taken for an application code: %+v", s, r)
		}
	}
	for _, s := range []string{"TB-2025-000123", "tb2025000123", "tb-2025-000123 4567", "mã hồ sơ TB-2025-000777 của tôi"} {
		if r := c.Classify(s); r.Entities[EntityApplicationCode] == "" || r.Intent != "application_status" {
			t.Errorf("%q: %+v, want a status question with its code", s, r)
		}
	}
	c.SetCodePattern(regexp.MustCompile(`(?i)^(?:HS\d{6})$`))
	if r := c.Classify("hs123456"); r.Entities[EntityApplicationCode] != "HS123456" {
		t.Errorf("configured pattern: %+v", r)
	}
	if r := c.Classify("TB-2025-000123"); r.Entities[EntityApplicationCode] != "" {
		t.Errorf("a code of another shape under a pattern: %+v", r)
	}
}

package console

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/cases"
	"github.com/socialaid-vn/gateway/data"
	"github.com/socialaid-vn/gateway/lookup"
)

func (f *fixture) openCase(t *testing.T, commune, phone, text string) string {
	t.Helper()
	c, err := f.cs.OpenForCitizen(context.Background(), cases.NewCase{Kind: cases.Complaint, Channel: gateway.SMS, Address: phone, Commune: commune, Text: text})
	if err != nil {
		t.Fatal(err)
	}
	return c.Code
}

// An officer of Vũ Phúc works the inbox and a case of Vũ Phúc: sees it with the address masked
// in the list and whole on its page, answers with a canned reply, notes, takes, closes and
// reopens it; another commune's case is 404 however it is asked for; a viewer gets 403.
func TestCasesInboxAndCasePage(t *testing.T) {
	f := newFixture(t)
	vp := f.openCase(t, "Vũ Phúc", "+84900000011", "Tháng 11 bà tôi chưa nhận được tiền.")
	vp2 := f.openCase(t, "Vũ Phúc", "+84900000012", "Nhà tôi nhận thiếu tiền tháng 10.")
	tl := f.openCase(t, "Trần Lãm", "+84900000013", "Chưa nhận tiền.")
	lan := f.login(t, "lan")

	code, body := lan.get(t, "/console/cases")
	body = html.UnescapeString(body)
	if code != 200 || !strings.Contains(body, vp) || !strings.Contains(body, vp2) || strings.Contains(body, tl) {
		t.Fatalf("officer's inbox: %d, lists %s %s, not %s?\n%s", code, vp, vp2, tl, body)
	}
	if strings.Contains(body, "+84900000011") || !strings.Contains(body, "+84*******11") {
		t.Error("the inbox shows a full phone number, or no masked one")
	}
	for _, path := range []string{"/console/cases/" + tl, "/console/cases/" + tl + "/live", "/console/cases/PA-2026-999999"} {
		if code, _ := lan.get(t, path); code != http.StatusNotFound {
			t.Errorf("officer of Vũ Phúc GET %s: %d, want 404", path, code)
		}
	}
	if code, _, _ := lan.post(t, "/console/cases/"+tl+"/reply", url.Values{"text": {"x"}}); code != http.StatusNotFound {
		t.Errorf("officer answering Trần Lãm's case: %d, want 404", code)
	}
	viewer := f.login(t, "xem")
	for _, path := range []string{"/console/cases", "/console/cases/" + vp} {
		if code, _ := viewer.get(t, path); code != http.StatusForbidden {
			t.Errorf("viewer GET %s: %d, want 403", path, code)
		}
	}

	code, body = lan.get(t, "/console/cases/"+vp)
	body = html.UnescapeString(body)
	if code != 200 || !strings.Contains(body, "+84900000011") || !strings.Contains(body, "Tháng 11 bà tôi chưa nhận được tiền.") {
		t.Fatalf("case page: %d\n%s", code, body)
	}
	// The canned replies of a complaint, filled for this case, in its language.
	if !strings.Contains(body, `value="received"`) || !strings.Contains(body, "phường Vũ Phúc đã nhận phản ánh "+vp) || strings.Contains(body, `value="call_back"`) {
		t.Errorf("canned replies on a complaint's page:\n%s", body)
	}
	// Without the form token nothing is sent.
	if code, _, _ := lan.post(t, "/console/cases/"+vp+"/reply", url.Values{"csrf": {"x"}, "text": {"Dạ"}}); code != http.StatusForbidden {
		t.Errorf("reply with a wrong form token: %d", code)
	}
	// Empty: the form says so.
	if code, body, _ := lan.post(t, "/console/cases/"+vp+"/reply", url.Values{"text": {"  "}}); code != http.StatusBadRequest || !strings.Contains(body, "Xin viết nội dung") {
		t.Errorf("empty reply: %d", code)
	}
	// A canned reply picked without JavaScript goes as it is.
	if code, _, loc := lan.post(t, "/console/cases/"+vp+"/reply", url.Values{"canned": {"received"}}); code != http.StatusSeeOther || !strings.HasPrefix(loc, "/console/cases/"+vp) {
		t.Fatalf("canned reply: %d → %s", code, loc)
	}
	if sent := f.out.texts(); !strings.Contains(sent, "sms:+84900000011:") || !strings.Contains(sent, "phường Vũ Phúc đã nhận phản ánh "+vp) {
		t.Fatalf("the citizen was sent %q", sent)
	}
	for _, step := range []struct {
		path string
		v    url.Values
		want int
	}{
		{"/note", url.Values{"text": {"Đã báo kế toán xã."}}, http.StatusSeeOther},
		{"/assign", url.Values{"to": {"me"}}, http.StatusSeeOther},
		{"/assign", url.Values{"to": {"console:someone"}}, http.StatusBadRequest}, // not offered
		{"/assign", url.Values{"to": {"console:boss"}}, http.StatusSeeOther},      // an admin covers every commune
		{"/assign", url.Values{"to": {"me"}}, http.StatusSeeOther},
		{"/close", url.Values{"text": {"Đã chi bù ngày 10/12."}}, http.StatusSeeOther},
		{"/reply", url.Values{"text": {"Còn gì nữa không ạ?"}}, http.StatusConflict},
		{"/reopen", url.Values{}, http.StatusSeeOther},
		{"/reopen", url.Values{}, http.StatusConflict},
	} {
		code, body, _ := lan.post(t, "/console/cases/"+vp+step.path, step.v)
		if code != step.want {
			t.Fatalf("POST %s %v: %d, want %d\n%s", step.path, step.v, code, step.want, body)
		}
	}
	c, err := f.cs.Get(context.Background(), cases.Admin, vp)
	if err != nil || c.Assignee != "console:lan" || c.Status != cases.Assigned || len(c.Timeline) != 8 {
		t.Fatalf("after the steps: %+v %v", c, err)
	}
	_, body = lan.get(t, "/console/cases/"+vp)
	for _, want := range []string{"Đã báo kế toán xã.", "ghi chú nội bộ", "nhận xử lý", "giao cho boss", "đóng phản ánh", "mở lại phản ánh", "Đã chi bù ngày 10/12."} {
		if !strings.Contains(body, want) {
			t.Errorf("the timeline lacks %q", want)
		}
	}

	// In English: the page's words, the canned replies' titles; the texts stay in the case's language.
	lan.get(t, "/console/lang?to=en&back=/console/cases")
	_, body = lan.get(t, "/console/cases/"+vp)
	for _, want := range []string{"Answer the citizen", "Received, being checked", "phường Vũ Phúc đã nhận", "Timeline", "took it"} {
		if !strings.Contains(html.UnescapeString(body), want) {
			t.Errorf("the English page lacks %q", want)
		}
	}
	lan.get(t, "/console/lang?to=vi&back=/console/cases")

	// Views: mine, unassigned.
	if _, body := lan.get(t, "/console/cases?view=mine"); !strings.Contains(body, vp) || strings.Contains(body, vp2) {
		t.Error("Mine lists the wrong cases")
	}
	if _, body := lan.get(t, "/console/cases?view=unassigned"); strings.Contains(body, vp) || !strings.Contains(body, vp2) {
		t.Error("Unassigned lists the wrong cases")
	}
	if code, _ := lan.get(t, "/console/cases?view=nonsense&status=lost&cursor=%21%21"); code != 200 {
		t.Errorf("a hand-edited inbox link: %d", code)
	}

	// The live parts: 204 while nothing changed, the new message once the citizen writes.
	var live struct{ V, HTML string }
	_, js := lan.get(t, "/console/cases/live?view=all")
	if err := json.Unmarshal([]byte(js), &live); err != nil || live.V == "" || !strings.Contains(live.HTML, vp2) {
		t.Fatalf("live rows: %s %v", js, err)
	}
	if code, _ := lan.get(t, "/console/cases/live?view=all&v="+live.V); code != http.StatusNoContent {
		t.Errorf("unchanged rows: %d, want 204", code)
	}
	if _, err := f.cs.AddMessage(context.Background(), gateway.SMS, "+84900000012", vp2, "Xin cán bộ gọi lại giúp."); err != nil {
		t.Fatal(err)
	}
	_, js = lan.get(t, "/console/cases/live?view=all&v="+live.V)
	if !strings.Contains(js, "Xin cán bộ gọi lại giúp.") {
		t.Errorf("the new message is not in the live rows: %s", js)
	}
}

func TestDashboardShowsOnlyTheCommunesOfTheAccount(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.rec.Add(ctx, "q:payment", "Vũ Phúc", 3)
	f.rec.Add(ctx, "q:eligibility", "Trần Lãm", 5)
	f.openCase(t, "Trần Lãm", "+84900000013", "Chưa nhận tiền.")
	for _, who := range []struct {
		user    string
		has     []string
		hasNot  []string
		kpiMsgs string
	}{
		{"lan", []string{"Vũ Phúc", "Lịch chi trả"}, []string{"Trần Lãm", "Ai được hưởng"}, ">3<"},
		{"xem", []string{"Vũ Phúc", "Trần Lãm", "Ai được hưởng", "Trần Lãm — Đang mở: 1"}, nil, ">8<"},
		{"boss", []string{"Vũ Phúc", "Trần Lãm"}, nil, ">8<"},
	} {
		b := f.login(t, who.user)
		code, body := b.get(t, "/console/dashboard")
		if code != 200 || !strings.Contains(body, `<svg class="chart"`) || !strings.Contains(body, who.kpiMsgs) {
			t.Fatalf("%s: dashboard %d\n%s", who.user, code, body)
		}
		main := body[strings.Index(body, "<main"):]
		for _, s := range who.has {
			if !strings.Contains(main, s) {
				t.Errorf("%s: the dashboard lacks %q", who.user, s)
			}
		}
		for _, s := range who.hasNot {
			if strings.Contains(main, s) {
				t.Errorf("%s: the dashboard shows %q", who.user, s)
			}
		}
		if strings.Contains(body, "style=") || strings.Contains(body, "<script>") {
			t.Errorf("%s: inline style or script (the CSP refuses them)", who.user)
		}
	}
	b := f.login(t, "lan")
	if _, body := b.get(t, "/console/dashboard?from=2026-05-01&to=2026-04-01"); !strings.Contains(body, "phải trước ngày kết thúc") {
		t.Error("a period ending before it starts is not explained")
	}
	if _, body := b.get(t, "/console/dashboard?commune=Tr%E1%BA%A7n%20L%C3%A3m"); strings.Contains(body[strings.Index(body, "<main"):], "Ai được hưởng") {
		t.Error("an officer chose another commune's figures by URL")
	}
	today := time.Now().In(lookup.Zone()).Format(time.DateOnly)
	if code, _ := b.get(t, "/console/dashboard?from="+today+"&to="+today); code != 200 {
		t.Errorf("one day: %d", code)
	}
}

func TestCannedRepliesFile(t *testing.T) {
	cr, err := LoadCanned(data.Embedded())
	if err != nil {
		t.Fatal(err)
	}
	if len(cr.For(cases.Complaint)) < 3 || len(cr.For(cases.Callback)) < 2 {
		t.Errorf("embedded canned replies: %d for complaints, %d for callbacks", len(cr.For(cases.Complaint)), len(cr.For(cases.Callback)))
	}
	if r, ok := cr.Get("received"); !ok || !strings.Contains(r.Text("en", "PA-2026-000001", "Vu Phuc ward"), "PA-2026-000001 has reached the officers of Vu Phuc ward") {
		t.Errorf("received in English: %+v", r)
	}
	// A department's own file under DATA_DIR replaces the embedded one.
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "console"), 0o755)
	os.WriteFile(filepath.Join(dir, CannedFile), []byte("[[reply]]\nid = \"ours\"\ntitle = \"Của Sở\"\ntitle_en = \"Ours\"\nvi = \"Dạ, {code}.\"\nen = \"Yes, {code}.\"\n"), 0o644)
	fsys, err := data.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if own, err := LoadCanned(fsys); err != nil || len(own.For(cases.Feedback)) != 1 || own.For(cases.Feedback)[0].ID != "ours" {
		t.Errorf("DATA_DIR canned replies: %v %v", own, err)
	}
	head := "[[reply]]\nid = \"a\"\ntitle = \"A\"\ntitle_en = \"A\"\nvi = \"x\"\nen = \"y\"\n"
	for name, tc := range map[string]struct{ file, want string }{
		"syntax":      {"[[reply]\n", "console/canned_replies.toml:2:"},
		"unknown key": {head + "colour = \"red\"\n", "console/canned_replies.toml:7: unknown key"},
		"twice":       {head + "\n" + head, "console/canned_replies.toml:8: reply \"a\": id given twice"},
		"no english":  {"[[reply]]\nid = \"b\"\ntitle = \"B\"\ntitle_en = \"B\"\nvi = \"x\"\n", "console/canned_replies.toml:1: reply \"b\": en is missing"},
		"placeholder": {"\n[[reply]]\nid = \"c\"\ntitle = \"C\"\ntitle_en = \"C\"\nvi = \"{name}\"\nen = \"y\"\n", "console/canned_replies.toml:2: reply \"c\": unknown placeholder {name}"},
		"kind":        {head + "kinds = [\"lost\"]\n", "kind \"lost\""},
		"bad id":      {"[[reply]]\nid = \"Bad Id\"\ntitle = \"B\"\ntitle_en = \"B\"\nvi = \"x\"\nen = \"y\"\n", ":1: reply \"Bad Id\": id must be"},
	} {
		_, err := LoadCanned(fstest.MapFS{CannedFile: {Data: []byte(tc.file)}})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}

package console

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/audience"
	"github.com/socialaid-vn/gateway/broadcast"
	"github.com/socialaid-vn/gateway/cases"
	"github.com/socialaid-vn/gateway/data"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/knowledge"
	"github.com/socialaid-vn/gateway/lookup"
	"github.com/socialaid-vn/gateway/redisconn/redistest"
	"github.com/socialaid-vn/gateway/staff"
	"github.com/socialaid-vn/gateway/stats"
)

type nopSender struct{}

func (nopSender) Send(context.Context, gateway.Outbound) error { return nil }

type fixture struct {
	url string
	st  *staff.Store
	bc  *broadcast.Service
	aud *audience.Store
	cs  *cases.Service
	rec *stats.Recorder
	out *outbox
}

// outbox records what the cases service queued for citizens, and says it was sent.
type outbox struct {
	mu   sync.Mutex
	sent map[string]gateway.Outbound
}

func (o *outbox) Send(_ context.Context, id string, out gateway.Outbound) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sent[id] = out
	return nil
}

func (o *outbox) Outcome(_ context.Context, id string) (cases.Delivery, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.sent[id]; !ok {
		return cases.Delivery{}, cases.ErrNotFound
	}
	return cases.Delivery{State: cases.DeliverySent}, nil
}

func (o *outbox) texts() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var b strings.Builder
	for _, m := range o.sent {
		b.WriteString(string(m.Channel) + ":" + m.To + ":" + m.Reply.Text + "\n")
	}
	return b.String()
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	rdb := redistest.New(t)
	fsys := data.Embedded()
	cat, err := i18n.LoadCatalog(fsys)
	if err != nil {
		t.Fatal(err)
	}
	communes, err := lookup.ReadCommunes(fsys)
	if err != nil {
		t.Fatal(err)
	}
	apps, err := lookup.New(rdb, lookup.Options{HashKey: []byte(strings.Repeat("k", 32)), Communes: communes})
	if err != nil {
		t.Fatal(err)
	}
	aud := audience.New(rdb)
	bc := broadcast.New(rdb, aud, map[gateway.Channel]gateway.Sender{gateway.SMS: nopSender{}, gateway.Web: nopSender{}}, cat,
		broadcast.Config{Communes: communes}, nil)
	st := staff.NewStore(rdb, staff.Options{Communes: communes})
	kb, err := knowledge.Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for _, c := range kb.Communes() {
		kinds[c.Name] = c.Kind
	}
	out := &outbox{sent: map[string]gateway.Outbound{}}
	rec := stats.New(rdb, nil)
	cs := cases.New(rdb, kb, cat, out, rec, cases.Config{Communes: communes}, nil)
	canned, err := LoadCanned(fsys)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{Communes: communes, SMSPrice: 800, SMSMaxSegments: 2, CommuneKinds: kinds}, st, bc, apps, rdb, cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.WithCases(cs, canned).WithFigures(rec)
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	for _, a := range []struct {
		user     string
		role     staff.Role
		communes []string
	}{{"boss", staff.Admin, nil}, {"lan", staff.Officer, []string{"Vũ Phúc"}}, {"xem", staff.Viewer, nil}} {
		if _, err := st.Add(context.Background(), a.user, a.role, a.communes, "mat khau dai lam", false); err != nil {
			t.Fatal(err)
		}
	}
	return &fixture{url: srv.URL, st: st, bc: bc, aud: aud, cs: cs, rec: rec, out: out}
}

// browser is a signed-in person: a cookie jar, no redirects followed, and the form token.
type browser struct {
	c    *http.Client
	csrf string
	base string
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (f *fixture) login(t *testing.T, user string) *browser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	b := &browser{c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, base: f.url}
	code, _, loc := b.post(t, "/console/login", url.Values{"username": {user}, "password": {"mat khau dai lam"}})
	if code != http.StatusSeeOther || loc != "/console/" {
		t.Fatalf("login %s: %d → %s", user, code, loc)
	}
	_, body := b.get(t, "/console/password")
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no form token on the page")
	}
	b.csrf = m[1]
	return b
}

func (b *browser) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := b.c.Get(b.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (b *browser) post(t *testing.T, path string, v url.Values) (int, string, string) {
	t.Helper()
	if b.csrf != "" && v.Get("csrf") == "" {
		v.Set("csrf", b.csrf)
	}
	req, _ := http.NewRequest("POST", b.base+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header.Get("Location")
}

func TestSignedOutGoesToLogin(t *testing.T) {
	f := newFixture(t)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(f.url + "/console/broadcasts/new")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/console/login?next=%2Fconsole%2Fbroadcasts%2Fnew") {
		t.Fatalf("signed out: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Fatalf("CSP %q", csp)
	}
}

func TestRolesAndFormTokens(t *testing.T) {
	f := newFixture(t)
	viewer := f.login(t, "xem")
	if code, _ := viewer.get(t, "/console/broadcasts/new"); code != http.StatusForbidden {
		t.Errorf("viewer opening the composer: %d, want 403", code)
	}
	if code, _ := viewer.get(t, "/console/staff"); code != http.StatusForbidden {
		t.Errorf("viewer opening accounts: %d, want 403", code)
	}
	if code, _ := viewer.get(t, "/console/broadcasts"); code != http.StatusOK {
		t.Errorf("viewer reading the list: %d", code)
	}
	officer := f.login(t, "lan")
	good := url.Values{"text_vi": {"Chi trả ngày 10/12 tại nhà văn hóa"}, "communes": {"Vũ Phúc"}, "channels": {"sms"}, "when": {"now"}}
	// Without the form token nothing happens.
	code, _, _ := officer.post(t, "/console/broadcasts", url.Values{"csrf": {"wrong"}, "text_vi": good["text_vi"], "communes": good["communes"], "channels": good["channels"]})
	if code != http.StatusForbidden {
		t.Fatalf("post with a wrong form token: %d, want 403", code)
	}
	// Another commune: the form says so next to the field.
	code, body, _ := officer.post(t, "/console/broadcasts", url.Values{"text_vi": good["text_vi"], "communes": {"Trần Lãm"}, "channels": {"sms"}})
	if code != http.StatusBadRequest || !strings.Contains(body, "không thuộc tài khoản") {
		t.Fatalf("officer posting for Trần Lãm: %d", code)
	}
	code, _, loc := officer.post(t, "/console/broadcasts", good)
	if code != http.StatusSeeOther || !strings.HasPrefix(loc, "/console/broadcasts/b") {
		t.Fatalf("officer's own broadcast: %d → %s", code, loc)
	}
	id := strings.TrimPrefix(loc, "/console/broadcasts/")
	if code, body := officer.get(t, loc); code != 200 || !strings.Contains(body, "Chi trả ngày 10/12") || !strings.Contains(body, "Dừng gửi") {
		t.Fatalf("report page: %d", code)
	}
	code, csv := officer.get(t, loc+"/report.csv")
	if code != 200 || !strings.Contains(csv, "outcome,reason,count") || !strings.Contains(csv, "id,"+id) {
		t.Fatalf("CSV: %d %q", code, csv)
	}
	if code, js := officer.get(t, loc+"/progress"); code != 200 || !strings.Contains(js, `"percent"`) {
		t.Fatalf("progress: %d %s", code, js)
	}
	if code, _, _ := officer.post(t, loc+"/cancel", url.Values{}); code != http.StatusSeeOther {
		t.Fatalf("cancel: %d", code)
	}
	admin := f.login(t, "boss")
	other, err := f.bc.Create(context.Background(), broadcast.Request{Text: map[string]string{"vi": "x"}, Audience: broadcast.Audience{Communes: []string{"Trần Lãm"}, Channels: []string{"web"}}})
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := officer.get(t, "/console/broadcasts/"+other.ID); code != http.StatusNotFound {
		t.Fatalf("officer reading Trần Lãm's broadcast: %d, want 404", code)
	}
	if code, _, _ := officer.post(t, "/console/broadcasts/"+other.ID+"/cancel", url.Values{}); code != http.StatusNotFound {
		t.Fatalf("officer cancelling Trần Lãm's broadcast: %d, want 404", code)
	}
	if code, _ := admin.get(t, "/console/broadcasts/"+other.ID); code != http.StatusOK {
		t.Fatalf("admin: %d", code)
	}
	// The audit has the actions, by whom.
	entries, _, _ := f.st.AuditLog(context.Background(), "", 50)
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Actor+":"+e.Action)
	}
	for _, want := range []string{"lan:broadcast_create", "lan:broadcast_cancel", "lan:login", "xem:login"} {
		if !strings.Contains(strings.Join(actions, " "), want) {
			t.Errorf("audit lacks %s: %v", want, actions)
		}
	}
	// The audit page names the actions in words, the code kept as the cell's title.
	code, page := admin.get(t, "/console/audit")
	if code != 200 || !strings.Contains(page, ">Gửi thông báo<") || !strings.Contains(page, ">Hủy thông báo<") ||
		!strings.Contains(page, ">Đăng nhập<") || strings.Contains(page, ">broadcast_create<") {
		t.Errorf("audit page: %d\n%s", code, page)
	}
}

// Every action the gateway writes to the audit has a label in both languages.
func TestAuditActionsHaveLabels(t *testing.T) {
	cat, err := i18n.LoadCatalog(data.Embedded())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"login", "login_failed", "login_locked", "logout", "password_change",
		"broadcast_create", "broadcast_cancel", "records_import", "case_create", "case_view", "case_reply",
		"case_note", "case_assign", "case_close", "case_reopen", "staff_add", "staff_passwd", "staff_reset",
		"staff_disable", "staff_enable", "staff_unlock"} {
		for _, lang := range []string{"vi", "en"} {
			if !cat.Has(lang, "console.audit.act."+a) {
				t.Errorf("%s: no %s label for audit action %q", lang, lang, a)
			}
		}
	}
}

func TestPreviewCountsAndPricesTheSMS(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for i, id := range []string{"+84900000001", "+84900000002", "+84900000003"} {
		commune := "Vũ Phúc"
		if i == 2 {
			commune = "Trần Lãm"
		}
		f.aud.Subscribe(ctx, audience.Subscriber{Channel: gateway.SMS, ID: id, Commune: commune})
	}
	b := f.login(t, "lan")
	req, _ := http.NewRequest("POST", f.url+"/console/broadcasts/preview", strings.NewReader(url.Values{
		"text_vi": {"Tiền trợ cấp chi trả ngày 10/12"}, "communes": {"Vũ Phúc"}, "channels": {"sms"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-CSRF-Token", b.csrf)
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`"recipients":2`, `Tien tro cap chi tra ngay 10/12`, `1.600 đồng`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("preview lacks %s: %s", want, body)
		}
	}
}

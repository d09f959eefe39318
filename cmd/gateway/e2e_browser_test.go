package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/socialaid-vn/gateway/broadcast"
	"github.com/socialaid-vn/gateway/internal/browsertest"
	"github.com/socialaid-vn/gateway/staff"
)

// Browser tests: the real server (embedded Redis, demo data, every worker) driven through
// Chromium as a citizen and as staff would use it.

const testPassword = "mat khau dai 2026"

// browserServer runs the real server with ADMIN_TOKEN=tok and an admin "boss".
func browserServer(t *testing.T) (*server, string) {
	t.Helper()
	srv := newE2EServer(t, map[string]string{"ADMIN_TOKEN": "tok"})
	base := serveE2E(t, srv)
	if _, err := srv.staff.Add(context.Background(), "boss", staff.Admin, nil, testPassword, false); err != nil {
		t.Fatal(err)
	}
	return srv, base
}

// waitJS evaluates expr every 50 ms until it is true or timeout passes (the page may reload
// meanwhile: an evaluation failing across a navigation is tried again).
func waitJS(t *testing.T, ctx context.Context, what, expr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) {
		var ok bool
		ectx, cancel := context.WithTimeout(ctx, 5*time.Second)
		lastErr = chromedp.Run(ectx, chromedp.Evaluate(expr, &ok))
		cancel()
		if lastErr == nil && ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out after %v waiting for %s (last error: %v)", timeout, what, lastErr)
}

// waitText waits until one of the elements sel's text contains want, and returns their text.
func waitText(t *testing.T, ctx context.Context, sel, want string, timeout time.Duration) string {
	t.Helper()
	js := fmt.Sprintf(`(() => { const els = document.querySelectorAll(%q); for (const e of els) { if (e.innerText.includes(%q)) return true; } return false; })()`, sel, want)
	waitJS(t, ctx, fmt.Sprintf("%s to show %q", sel, want), js, timeout)
	var txt string
	browsertest.Run(t, ctx, "read "+sel, 5*time.Second, chromedp.Evaluate(fmt.Sprintf(`Array.from(document.querySelectorAll(%q)).map(e => e.innerText).join("\n")`, sel), &txt))
	return txt
}

// say types a message into the web chat and sends it with Enter.
func say(t *testing.T, ctx context.Context, text string) {
	t.Helper()
	browsertest.Run(t, ctx, "type "+text, 10*time.Second,
		chromedp.WaitEnabled(".gwc-send", chromedp.ByQuery),
		chromedp.SendKeys("#gwc-input", text+"\r", chromedp.ByID))
}

// login signs in through the form and waits for the console's navigation.
func login(t *testing.T, ctx context.Context, base, user, pw string) {
	t.Helper()
	browsertest.Run(t, ctx, "login as "+user, 20*time.Second,
		chromedp.Navigate(base+"/console/login"),
		chromedp.WaitVisible("#username", chromedp.ByID),
		chromedp.SendKeys("#username", user, chromedp.ByID),
		chromedp.SendKeys("#password", pw, chromedp.ByID),
		chromedp.Submit("#password", chromedp.ByID),
		chromedp.WaitVisible("nav.nav", chromedp.ByQuery))
}

func TestBrowserCitizenChatAnswersAndReceivesABroadcast(t *testing.T) {
	_, base := browserServer(t)
	ctx, _ := browsertest.New(t, browsertest.Options{})
	browsertest.Run(t, ctx, "open the chat", 20*time.Second,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(`.gwc[data-connected="1"]`, chromedp.ByQuery))
	say(t, ctx, "TT TB-2025-000123 4567")
	got := waitText(t, ctx, ".gwc-bot .gwc-text", "TB-2025-000123", 20*time.Second)
	if !strings.Contains(got, "1.000.000") {
		t.Fatalf("status answer lacks the amount: %q", got)
	}
	say(t, ctx, "DK Vu Phuc")
	waitText(t, ctx, ".gwc-bot .gwc-text", "Vũ Phúc", 20*time.Second)

	// A broadcast from the staff API with channel web arrives as an event, without reloading.
	body := `{"text":{"vi":"Tiền trợ cấp tháng 12 của xã Vũ Phúc chi trả ngày 10/12 tại nhà văn hóa thôn."},"audience":{"communes":["Vũ Phúc"],"channels":["web"]}}`
	if b := apiPost(t, base+"/api/broadcasts", "tok", body); !strings.Contains(b, `"recipients":1`) {
		t.Fatalf("POST /api/broadcasts: %s", b)
	}
	waitText(t, ctx, ".gwc-push .gwc-text", "chi trả ngày 10/12", 30*time.Second)
}

func TestBrowserStaffLoginWrongPasswordAndLockout(t *testing.T) {
	srv, base := browserServer(t)
	ctx, _ := browsertest.New(t, browsertest.Options{})
	// Unknown user and wrong password get the same answer.
	for _, user := range []string{"nobody", "boss"} {
		browsertest.Run(t, ctx, "wrong login", 20*time.Second,
			chromedp.Navigate(base+"/console/login"),
			chromedp.WaitVisible("#username", chromedp.ByID),
			chromedp.SendKeys("#username", user, chromedp.ByID),
			chromedp.SendKeys("#password", "not the password", chromedp.ByID),
			chromedp.Submit("#password", chromedp.ByID),
			chromedp.WaitVisible("#login-error", chromedp.ByID))
		waitText(t, ctx, "#login-error", "chưa đúng", 5*time.Second)
	}
	for i := 0; i < 4; i++ { // 5 failures of boss in all lock it
		browsertest.Run(t, ctx, "wrong login", 20*time.Second,
			chromedp.SetValue("#password", "still wrong", chromedp.ByID),
			chromedp.Submit("#password", chromedp.ByID),
			chromedp.WaitVisible("#login-error", chromedp.ByID))
	}
	waitText(t, ctx, "#login-error", "sai nhiều lần", 5*time.Second)
	// Locked: even the right password is refused until the lock ends.
	browsertest.Run(t, ctx, "right password while locked", 20*time.Second,
		chromedp.SetValue("#password", testPassword, chromedp.ByID),
		chromedp.Submit("#password", chromedp.ByID),
		chromedp.WaitVisible("#login-error", chromedp.ByID))
	waitText(t, ctx, "#login-error", "sai nhiều lần", 5*time.Second)
	var audit []staff.AuditEntry
	audit, _, _ = srv.staff.AuditLog(context.Background(), "", 20)
	if len(audit) < 6 || audit[0].Action != "login_locked" {
		t.Fatalf("audit = %+v, want the failures and the lock", audit)
	}

	// An account made with `gateway staff add` signs in through the form.
	if _, err := srv.staff.Add(context.Background(), "lan", staff.Officer, []string{"Vũ Phúc"}, testPassword, false); err != nil {
		t.Fatal(err)
	}
	login(t, ctx, base, "lan", testPassword)
	waitText(t, ctx, "h1", "Phản ánh", 5*time.Second) // an officer starts on the cases inbox
	var cookies []*network.Cookie
	browsertest.Run(t, ctx, "cookies", 5*time.Second, chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		cookies, err = network.GetCookies().Do(ctx)
		return err
	}))
	for _, c := range cookies {
		if c.Name == staff.CookieName && (!c.HTTPOnly || c.SameSite != network.CookieSameSiteLax) {
			t.Fatalf("session cookie %+v, want HttpOnly SameSite=Lax", c)
		}
	}
}

// apiPost posts body to the staff API with the bearer token and wants 202.
func apiPost(t *testing.T, url, token, body string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 202 {
		t.Fatalf("POST %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

// sseClient is a citizen in the web chat as seen from Go: a cookie jar and the event stream.
type sseClient struct {
	c      *http.Client
	events chan string
}

func newSSEClient(t *testing.T, base string, messages ...string) *sseClient {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	s := &sseClient{c: &http.Client{Jar: jar}, events: make(chan string, 16)}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/webchat/api/events", nil)
	resp, err := s.c.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("events: %v %v", resp, err)
	}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok && d != "{}" {
				s.events <- d
			}
		}
	}()
	for _, m := range messages {
		r, err := s.c.Post(base+"/webchat/api/messages", "application/json", strings.NewReader(fmt.Sprintf(`{"text":%q}`, m)))
		if err != nil || r.StatusCode != 200 {
			t.Fatalf("message %q: %v %v", m, r, err)
		}
		r.Body.Close()
	}
	return s
}

func TestBrowserComposePreviewSendProgress(t *testing.T) {
	_, base := browserServer(t)
	citizen := newSSEClient(t, base, "DK Vu Phuc")
	ctx, _ := browsertest.New(t, browsertest.Options{})
	login(t, ctx, base, "boss", testPassword)
	browsertest.Run(t, ctx, "open the composer", 20*time.Second,
		chromedp.Navigate(base+"/console/broadcasts/new"),
		chromedp.WaitVisible("#compose", chromedp.ByID),
		chromedp.Click(`input[name=communes][value="Vũ Phúc"]`, chromedp.ByQuery),
		chromedp.SendKeys("#text_vi", "Tiền trợ cấp tháng 12 của xã Vũ Phúc chi trả ngày 10/12 tại nhà văn hóa thôn.", chromedp.ByID))
	// The live preview counts the one web-chat subscriber of Vũ Phúc.
	waitText(t, ctx, "#pv-channels", "Web chat", 15*time.Second)
	waitText(t, ctx, "#pv-recipients", "1", 15*time.Second)
	browsertest.Run(t, ctx, "send", 20*time.Second,
		chromedp.Click("#send", chromedp.ByID),
		chromedp.WaitVisible("#progress", chromedp.ByID))
	waitText(t, ctx, "#of", "1 / 1", 30*time.Second)
	waitJS(t, ctx, "the progress bar at 100% and the broadcast done",
		`document.getElementById("bar").value === 100 && document.getElementById("st").className.includes("s-done")`, 30*time.Second)
	// The demo's payment sessions may bring the subscriber a reminder first: it is not the
	// broadcast, and is skipped.
	timeout := time.After(20 * time.Second)
	for got := false; !got; {
		select {
		case ev := <-citizen.events:
			if strings.Contains(ev, `"kind":"reminder"`) {
				continue
			}
			if !strings.Contains(ev, "chi trả ngày 10/12") || !strings.Contains(ev, `"kind":"broadcast"`) {
				t.Fatalf("the citizen got %s", ev)
			}
			got = true
		case <-timeout:
			t.Fatal("the web-chat subscriber of Vũ Phúc did not receive the broadcast")
		}
	}
	// The final report: who sent it, to whom, what.
	report := waitText(t, ctx, "main", "boss", 10*time.Second)
	for _, want := range []string{"Vũ Phúc", "Web chat", "nhà văn hóa thôn", "Đã gửi xong"} {
		if !strings.Contains(report, want) {
			t.Errorf("report page lacks %q", want)
		}
	}
}

func TestBrowserCrossOriginPostIsRefused(t *testing.T) {
	srv, base := browserServer(t)
	ctx, _ := browsertest.New(t, browsertest.Options{})
	login(t, ctx, base, "boss", testPassword)
	// Another site (another origin, here another port) posts a form into the console with the
	// staff member's cookies, and fetches the chat API.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><form id=f method=post action="%s/console/broadcasts">
<input name=text_vi value="Giả mạo"><input name=channels value=web><input name=communes value="Vũ Phúc"></form>
<p id=api>…</p><script>
fetch(%q + "/webchat/api/messages", {method: "POST", credentials: "include", headers: {"Content-Type": "application/json"}, body: '{"text":"HUY"}'})
  .then(r => { document.getElementById("api").textContent = "status " + r.status; })
  .catch(e => { document.getElementById("api").textContent = "blocked"; })
  .then(() => document.getElementById("f").submit());
</script>`, base, base)
	}))
	t.Cleanup(evil.Close)
	evilURL := strings.Replace(evil.URL, "127.0.0.1", "localhost", 1)
	browsertest.Run(t, ctx, "visit the other site", 20*time.Second,
		chromedp.Navigate(evilURL),
		chromedp.WaitVisible("body", chromedp.ByQuery))
	waitJS(t, ctx, "the forged post's answer", `location.pathname === "/console/broadcasts" && !!document.querySelector("main")`, 20*time.Second)
	waitText(t, ctx, "main", "Biểu mẫu đã cũ", 5*time.Second)
	list, _, err := srv.broadcast.List(context.Background(), time.Time{}, 10, nil)
	if err != nil || len(list) != 0 {
		t.Fatalf("a broadcast was created by the forged post: %v %v", list, err)
	}
}

func TestBrowserOfficerCannotActOnAnotherCommune(t *testing.T) {
	srv, base := browserServer(t)
	bg := context.Background()
	if _, err := srv.staff.Add(bg, "lam", staff.Officer, []string{"Trần Lãm"}, testPassword, false); err != nil {
		t.Fatal(err)
	}
	other, err := srv.broadcast.Create(bg, broadcast.Request{Text: map[string]string{"vi": "Thông báo của Vũ Phúc"},
		Audience: broadcast.Audience{Communes: []string{"Vũ Phúc"}, Channels: []string{"web"}}, By: "boss"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, _ := browsertest.New(t, browsertest.Options{})
	login(t, ctx, base, "lam", testPassword)
	// Another commune's broadcast by URL: not found, and no cancel for it.
	resp, err := chromedp.RunResponse(ctx, chromedp.Navigate(base+"/console/broadcasts/"+other.ID))
	if err != nil || resp.Status != 404 {
		t.Fatalf("officer of Trần Lãm opening Vũ Phúc's broadcast: %v %v, want 404", resp, err)
	}
	// The composer offers only Trần Lãm.
	var communes []string
	browsertest.Run(t, ctx, "composer", 20*time.Second,
		chromedp.Navigate(base+"/console/broadcasts/new"),
		chromedp.WaitVisible("#compose", chromedp.ByID),
		chromedp.Evaluate(`Array.from(document.querySelectorAll("input[name=communes]")).map(e => e.value)`, &communes))
	if len(communes) != 1 || communes[0] != "Trần Lãm" {
		t.Fatalf("officer's composer offers %v", communes)
	}
	// The list shows nothing of Vũ Phúc.
	browsertest.Run(t, ctx, "list", 20*time.Second, chromedp.Navigate(base+"/console/broadcasts"), chromedp.WaitVisible("main", chromedp.ByQuery))
	if txt := waitText(t, ctx, "main", "Thông báo", 5*time.Second); strings.Contains(txt, other.ID) {
		t.Fatalf("officer's list shows %s: %q", other.ID, txt)
	}
	// An upload with a Vũ Phúc row imports only the Trần Lãm row.
	uploadRecords(t, ctx, base, "applications.csv",
		"TB-2026-100001,Trần Thị Thử,1950-03-04,000000121234,0900000111,Trần Lãm,elderly,received,2026-11-02T08:00:00+07:00,,,\n"+
			"TB-2026-100002,Nguyễn Văn Thử,1950-03-04,000000121235,0900000112,Vũ Phúc,elderly,received,2026-11-02T08:00:00+07:00,,,\n")
	lines := waitText(t, ctx, "#rejected-lines", "not one of your communes", 5*time.Second)
	if !strings.Contains(lines, "3") || !strings.Contains(waitText(t, ctx, "#imported", "1", 5*time.Second), "1") {
		t.Fatalf("rejected lines %q", lines)
	}
	if app, _ := srv.apps.Get(bg, "TB-2026-100002"); app != nil {
		t.Fatal("the officer's upload wrote another commune's application")
	}
}

// The widget embedded in another site (the department's portal, allowed in WEBCHAT_ORIGINS)
// opens, talks to the gateway with its partitioned cookie, and answers.
func TestBrowserEmbeddedWidget(t *testing.T) {
	portal := httptest.NewUnstartedServer(nil)
	portalURL := "http://localhost:" + strings.TrimPrefix(portal.Listener.Addr().String(), "127.0.0.1:")
	srv := newE2EServer(t, map[string]string{"WEBCHAT_ORIGINS": portalURL})
	base := serveE2E(t, srv)
	portal.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="vi"><body><h1>Cổng thông tin Sở</h1><script src="%s/webchat.js" defer></script></body></html>`, base)
	})
	portal.Start()
	t.Cleanup(portal.Close)
	ctx, _ := browsertest.New(t, browsertest.Options{})
	open := `(() => { const h = document.getElementById("gw-chat-widget"); return !!h && !!h.shadowRoot.querySelector(".gwc-toggle"); })()`
	browsertest.Run(t, ctx, "open the portal", 20*time.Second, chromedp.Navigate(portalURL))
	waitJS(t, ctx, "the widget's button", open, 20*time.Second)
	browsertest.Run(t, ctx, "open the widget", 10*time.Second,
		chromedp.Evaluate(`document.getElementById("gw-chat-widget").shadowRoot.querySelector(".gwc-toggle").click()`, nil))
	root := `document.getElementById("gw-chat-widget").shadowRoot`
	waitJS(t, ctx, "the widget's stream", root+`.querySelector('.gwc[data-connected="1"]') !== null`, 20*time.Second)
	ask := func(text string) {
		browsertest.Run(t, ctx, "ask "+text, 10*time.Second, chromedp.Evaluate(root+`.querySelector("#gwc-input").value = `+fmt.Sprintf("%q", text)+`; `+
			root+`.querySelector(".gwc-form").requestSubmit()`, nil))
	}
	has := func(what, want string) {
		waitJS(t, ctx, what, `Array.from(`+root+`.querySelectorAll(".gwc-bot .gwc-text")).some(e => e.innerText.includes(`+fmt.Sprintf("%q", want)+`))`, 20*time.Second)
	}
	// Two turns: the second is understood only if the session cookie came back with it.
	ask("TT TB-2025-000123")
	has("the question for the digits", "4 số cuối")
	ask("4567")
	has("the answer in the widget", "1.000.000")
}

// uploadRecords imports applications through the console's records page as staff do: rows (CSV,
// without the header) written to a file called name, chosen and sent.
func uploadRecords(t *testing.T, ctx context.Context, base, name, rows string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), name)
	header := "code,full_name,birth_date,citizen_id,phone,commune,category,status,updated_at,monthly_amount,start_month,note\n"
	if err := os.WriteFile(file, []byte(header+rows), 0o600); err != nil {
		t.Fatal(err)
	}
	browsertest.Run(t, ctx, "upload", 30*time.Second,
		chromedp.Navigate(base+"/console/records"),
		chromedp.WaitVisible(`input[type=file]`, chromedp.ByQuery),
		chromedp.SetUploadFiles(`input[type=file]`, []string{file}, chromedp.ByQuery),
		chromedp.Click(`form.row-form button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible("#import-result", chromedp.ByID))
}

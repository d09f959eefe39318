package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/socialaid-vn/gateway/cases"
	"github.com/socialaid-vn/gateway/internal/browsertest"
	"github.com/socialaid-vn/gateway/staff"
)

// The cases side of the console, through Chromium, on one server and one browser: web-chat
// citizens open cases, an officer of Vũ Phúc works the inbox and answers, an admin reads the
// dashboard.
func TestBrowserCasesInTheConsole(t *testing.T) {
	srv, base := browserServer(t)
	bg := context.Background()
	for _, a := range []struct {
		user    string
		commune string
	}{{"lan", "Vũ Phúc"}, {"lam", "Trần Lãm"}} {
		if _, err := srv.staff.Add(bg, a.user, staff.Officer, []string{a.commune}, testPassword, false); err != nil {
			t.Fatal(err)
		}
	}
	posted := 0
	citizen := func(messages ...string) *sseClient {
		posted += len(messages)
		return newSSEClient(t, base, messages...)
	}
	// A citizen of Vũ Phúc asks for an officer (a live hand-off, or a callback out of hours:
	// either way their next messages go into the case); one of Trần Lãm files a complaint.
	vp := citizen("gặp cán bộ", "Vũ Phúc")
	citizen("tôi muốn khiếu nại", "tháng 11 bà tôi chưa nhận được tiền trợ cấp", "/case send", "Trần Lãm")
	codeOf := func(commune string) string {
		t.Helper()
		pg, err := srv.cases.List(bg, cases.Admin, cases.Filter{Commune: commune})
		if err != nil || len(pg.Cases) != 1 {
			t.Fatalf("cases of %s: %v %v", commune, pg, err)
		}
		return pg.Cases[0].Code
	}
	vpCode, tlCode := codeOf("Vũ Phúc"), codeOf("Trần Lãm")

	ctx, _ := browsertest.New(t, browsertest.Options{})
	login(t, ctx, base, "lan", testPassword)
	waitText(t, ctx, "h1", "Phản ánh", 10*time.Second) // an officer's console opens on the inbox

	t.Run("an officer opening another commune's case by URL gets 404", func(t *testing.T) {
		resp, err := chromedp.RunResponse(ctx, chromedp.Navigate(base+"/console/cases/"+tlCode))
		if err != nil || resp.Status != http.StatusNotFound {
			t.Fatalf("officer of Vũ Phúc opening %s of Trần Lãm: %v %v, want 404", tlCode, resp, err)
		}
		// Nor through the API with the same session, nor in the inbox.
		var api string
		browsertest.Run(t, ctx, "the API with the session", 10*time.Second, chromedp.Evaluate(fmt.Sprintf(
			`(async () => { const a = await fetch("/api/cases/%s"); const b = await fetch("/api/cases"); return a.status + " " + await b.text(); })()`, tlCode),
			&api, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
		if !strings.HasPrefix(api, "404 ") || strings.Contains(api, tlCode) || !strings.Contains(api, vpCode) {
			t.Fatalf("API for the officer: %s", api)
		}
		browsertest.Run(t, ctx, "inbox", 20*time.Second, chromedp.Navigate(base+"/console/cases?view=all&status=any"), chromedp.WaitVisible("#inbox", chromedp.ByID))
		if txt := waitText(t, ctx, "#inbox", vpCode, 10*time.Second); strings.Contains(txt, tlCode) {
			t.Fatalf("the inbox of Vũ Phúc lists %s: %q", tlCode, txt)
		}
	})

	t.Run("the inbox shows a new citizen message without reloading", func(t *testing.T) {
		browsertest.Run(t, ctx, "inbox", 20*time.Second,
			chromedp.Navigate(base+"/console/cases"), chromedp.WaitVisible("#inbox", chromedp.ByID),
			chromedp.Evaluate(`window.notReloaded = true`, nil))
		row := waitText(t, ctx, "#inbox tbody", vpCode, 10*time.Second)
		if strings.Contains(row, "+84") || strings.Contains(row, "0900") {
			t.Errorf("an inbox row shows an address: %q", row)
		}
		posted++
		postChat(t, vp, base, "bà tôi ốm, nhờ cán bộ gọi lại giúp")
		waitText(t, ctx, "#inbox tbody tr.fresh", "nhờ cán bộ gọi lại giúp", 20*time.Second)
		waitJS(t, ctx, "the same page (no reload)", `window.notReloaded === true`, time.Second)
	})

	t.Run("a reply typed in the console reaches the citizen's web chat", func(t *testing.T) {
		browsertest.Run(t, ctx, "case page", 20*time.Second,
			chromedp.Navigate(base+"/console/cases/"+vpCode), chromedp.WaitVisible("#timeline", chromedp.ByID),
			chromedp.Evaluate(`window.notReloaded = true`, nil))
		// The citizen's new message shows on the open page.
		posted++
		postChat(t, vp, base, "số điện thoại nhà tôi vẫn như cũ")
		waitText(t, ctx, "#timeline li.from-citizen", "vẫn như cũ", 20*time.Second)
		waitJS(t, ctx, "the same page (no reload)", `window.notReloaded === true`, time.Second)
		// Take it, then answer with a canned reply edited.
		browsertest.Run(t, ctx, "take", 20*time.Second, chromedp.Click("#take", chromedp.ByID), chromedp.WaitVisible(".flash", chromedp.ByQuery))
		waitText(t, ctx, "#case-assignee", "Tôi", 10*time.Second)
		var filled string
		browsertest.Run(t, ctx, "canned reply", 10*time.Second,
			chromedp.SetValue("#canned", "call_back", chromedp.ByID),
			chromedp.Evaluate(`document.getElementById("canned").dispatchEvent(new Event("change")); document.getElementById("reply-text").value`, &filled))
		if !strings.Contains(filled, "phường Vũ Phúc sẽ gọi lại") {
			t.Fatalf("the canned reply put %q in the box", filled)
		}
		browsertest.Run(t, ctx, "send", 20*time.Second,
			chromedp.SendKeys("#reply-text", " Cán bộ Lan.", chromedp.ByID),
			chromedp.Click("#send-reply", chromedp.ByID),
			chromedp.WaitVisible(".flash", chromedp.ByQuery))
		select {
		case ev := <-vp.events:
			var m struct{ Text, Kind string }
			if err := json.Unmarshal([]byte(ev), &m); err != nil || !strings.Contains(m.Text, "sẽ gọi lại") || !strings.Contains(m.Text, "Cán bộ Lan.") || m.Kind != "case_reply" {
				t.Fatalf("the citizen's web chat got %s", ev)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the citizen's web chat received no event for the reply")
		}
		// The page follows the delivery to "sent" by itself.
		waitText(t, ctx, "#timeline .dlv-sent", "đã gửi", 30*time.Second)
		// Every action is in the staff audit stream, with the officer and the address.
		entries, _, _ := srv.staff.AuditLog(bg, "", 50)
		got := map[string]bool{}
		for _, e := range entries {
			if e.Target == vpCode && e.Actor == "lan" && e.Addr != "" {
				got[e.Action] = true
			}
			if strings.Contains(e.Detail, "gọi lại") {
				t.Errorf("an audit entry holds the text: %+v", e)
			}
		}
		for _, a := range []string{"case_view", "case_assign", "case_reply"} {
			if !got[a] {
				t.Errorf("no %s by lan on %s in the audit: %+v", a, vpCode, entries)
			}
		}
		// Mine now lists it.
		browsertest.Run(t, ctx, "mine", 20*time.Second, chromedp.Navigate(base+"/console/cases?view=mine"), chromedp.WaitVisible("#inbox", chromedp.ByID))
		waitText(t, ctx, "#inbox tbody", vpCode, 10*time.Second)
	})

	t.Run("the dashboard draws the figures of a scripted conversation", func(t *testing.T) {
		// LICH Vu Phuc: payment, Vũ Phúc; the status check: Đông Hợp (the application's commune).
		citizen("xin chao", "LICH Vu Phuc", "TT TB-2025-000123 4567", "qwzx plmk vbnr")
		browsertest.Run(t, ctx, "sign out", 20*time.Second, chromedp.Click(`form[action="/console/logout"] button`, chromedp.ByQuery), chromedp.WaitVisible("#username", chromedp.ByID))
		login(t, ctx, base, "boss", testPassword)
		browsertest.Run(t, ctx, "dashboard", 20*time.Second, chromedp.Navigate(base+"/console/dashboard?period=7"), chromedp.WaitVisible("#kpis", chromedp.ByID))
		kpis := waitText(t, ctx, "#kpis", "Tin người dân hỏi", 10*time.Second)
		if !strings.Contains(kpis, fmt.Sprintf("%d\nTin người dân hỏi", posted)) {
			t.Errorf("KPIs %q, want %d messages", kpis, posted)
		}
		var titles []string
		browsertest.Run(t, ctx, "charts", 10*time.Second, chromedp.Evaluate(`Array.from(document.querySelectorAll("svg.chart rect title")).map(e => e.textContent)`, &titles))
		all := strings.Join(titles, "\n")
		for _, want := range []string{"Tra cứu hồ sơ: 1", "Chưa hiểu: 1", "Vũ Phúc — Đang mở: 1", "Trần Lãm — Đang mở: 1", "Vũ Phúc — Trả lời đầu: "} {
			if !strings.Contains(all, want) {
				t.Errorf("no bar %q in the charts:\n%s", want, all)
			}
		}
		// The table beside the chart: every topic with its count.
		var rows []string
		browsertest.Run(t, ctx, "questions table", 10*time.Second, chromedp.Evaluate(
			`Array.from(document.querySelectorAll("#questions-table tbody tr")).map(tr => Array.from(tr.cells).map(c => c.textContent).join("="))`, &rows))
		for _, want := range []string{"Lịch chi trả=1", "Chào hỏi=1", "Tra cứu hồ sơ=1", "Chưa hiểu=1", "Khiếu nại=4"} {
			if !strings.Contains(strings.Join(rows, "\n"), want) {
				t.Errorf("questions table %v lacks %s", rows, want)
			}
		}
		// An officer's dashboard holds only the officer's commune.
		browsertest.Run(t, ctx, "sign out", 20*time.Second, chromedp.Click(`form[action="/console/logout"] button`, chromedp.ByQuery), chromedp.WaitVisible("#username", chromedp.ByID))
		login(t, ctx, base, "lam", testPassword)
		browsertest.Run(t, ctx, "dashboard", 20*time.Second, chromedp.Navigate(base+"/console/dashboard"), chromedp.WaitVisible("#kpis", chromedp.ByID))
		page := waitText(t, ctx, "main", "Trần Lãm", 10*time.Second)
		if strings.Contains(page, "Vũ Phúc") || strings.Contains(page, "Đông Hợp") {
			t.Errorf("the dashboard of Trần Lãm's officer shows other communes:\n%s", page)
		}
	})
}

// postChat sends one more message in a citizen's web-chat session.
func postChat(t *testing.T, c *sseClient, base, text string) {
	t.Helper()
	r, err := c.c.Post(base+"/webchat/api/messages", "application/json", strings.NewReader(fmt.Sprintf(`{"text":%q}`, text)))
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("message %q: %v %v", text, r, err)
	}
	r.Body.Close()
}

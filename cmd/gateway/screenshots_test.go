package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/audience"
	"github.com/socialaid-vn/gateway/bot/bottest"
	"github.com/socialaid-vn/gateway/internal/browsertest"
	"github.com/socialaid-vn/gateway/sms/smstest"
	"github.com/socialaid-vn/gateway/staff"
)

var update = flag.Bool("update", false, "rewrite the README's screenshots in docs/screenshots")

// TestScreenshots takes the README's screenshots from the real server with fake Telegram and
// Twilio APIs and a few hundred demo subscribers: `go test ./cmd/gateway -run Screenshots
// -update`. Without -update it is skipped (the browser tests cover the same pages).
func TestScreenshots(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite docs/screenshots")
	}
	tg := bottest.New(t, e2eTGToken)
	tw := smstest.NewTwilio(t)
	vars := smsVars(tw.URL)
	vars["PUBLIC_BASE_URL"] = "http://127.0.0.1"
	vars["TELEGRAM_TOKEN"], vars["TELEGRAM_API_URL"] = e2eTGToken, tg.URL
	vars["ADMIN_TOKEN"] = "tok"
	srv := newE2EServer(t, vars)
	bg := context.Background()
	if err := srv.loadDemoCases(bg); err != nil {
		t.Fatal(err)
	}
	base := serveE2E(t, srv)
	if _, err := srv.staff.Add(bg, "lan.nguyen", staff.Admin, nil, testPassword, false); err != nil {
		t.Fatal(err)
	}
	srv.staff.Add(bg, "tran.lam", staff.Officer, []string{"Trần Lãm"}, testPassword, false)
	srv.staff.Add(bg, "so.ldtbxh", staff.Viewer, nil, testPassword, false)
	// Demo subscribers: Telegram chats and phones of Vũ Phúc and Trần Lãm; a few stopped.
	for i := 0; i < 240; i++ {
		commune := "Vũ Phúc"
		if i%3 == 0 {
			commune = "Trần Lãm"
		}
		ch, id := gateway.Telegram, fmt.Sprint(7000000+i)
		if i%4 == 0 {
			ch, id = gateway.SMS, fmt.Sprintf("+849000%05d", i)
		}
		if err := srv.aud.Subscribe(bg, audience.Subscriber{Channel: ch, ID: id, Commune: commune, Lang: "vi", Category: audience.Categories[i%len(audience.Categories)]}); err != nil {
			t.Fatal(err)
		}
		if i%37 == 5 {
			srv.aud.Stop(bg, ch, id, audience.ReasonBlocked)
		}
	}
	out := filepath.Join("..", "..", "docs", "screenshots")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := func(ctx context.Context, name string) {
		t.Helper()
		var png []byte
		browsertest.Run(t, ctx, "scroll up", 5*time.Second, chromedp.Evaluate(`document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)`, nil))
		act := chromedp.FullScreenshot(&png, 100)
		if name == "chat.png" || name == "chat-case.png" {
			act = chromedp.CaptureScreenshot(&png) // the phone's screen, as the person sees it
		}
		browsertest.Run(t, ctx, "screenshot "+name, 20*time.Second, act)
		if err := os.WriteFile(filepath.Join(out, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// The citizen's chat, on a phone.
	phone, _ := browsertest.New(t, browsertest.Options{Width: 412, Height: 880, Mobile: true})
	browsertest.Run(t, phone, "chat", 20*time.Second, chromedp.Navigate(base+"/"), chromedp.WaitVisible(`.gwc[data-connected="1"]`, chromedp.ByQuery))
	say(t, phone, "DK Vu Phuc")
	waitText(t, phone, ".gwc-bot .gwc-text", "đăng ký", 20*time.Second)
	say(t, phone, "TT TB-2025-000123 4567")
	waitText(t, phone, ".gwc-bot .gwc-text", "1.000.000", 20*time.Second)

	// Staff: the composer with its live preview.
	ctx, _ := browsertest.New(t, browsertest.Options{Width: 1280, Height: 900})
	browsertest.Run(t, ctx, "login page", 20*time.Second, chromedp.Navigate(base+"/console/login"), chromedp.WaitVisible("#username", chromedp.ByID))
	shot(ctx, "login.png")
	login(t, ctx, base, "lan.nguyen", testPassword)
	browsertest.Run(t, ctx, "composer", 20*time.Second,
		chromedp.Navigate(base+"/console/broadcasts/new"),
		chromedp.WaitVisible("#compose", chromedp.ByID),
		chromedp.Click(`input[name=communes][value="Vũ Phúc"]`, chromedp.ByQuery),
		chromedp.SendKeys("#text_vi", "Tiền trợ cấp tháng 12 của xã Vũ Phúc chi trả ngày 10/12, từ 7 giờ 30, tại nhà văn hóa thôn. Ông/Bà nhớ mang căn cước.", chromedp.ByID))
	waitText(t, ctx, "#pv-sms .sms-box", "Tien tro cap", 20*time.Second)
	waitText(t, ctx, "#pv-cost", "đồng", 20*time.Second)
	shot(ctx, "composer.png")
	browsertest.Run(t, ctx, "send", 20*time.Second, chromedp.Click("#send", chromedp.ByID), chromedp.WaitVisible("#progress", chromedp.ByID))
	waitJS(t, ctx, "the broadcast done", `document.readyState === "complete" && document.getElementById("st").className.includes("s-done") && !document.querySelector("button.danger")`, 60*time.Second)
	shot(ctx, "report.png")

	// The announcement reaches the citizen's open chat.
	waitText(t, phone, ".gwc-push .gwc-text", "nhà văn hóa", 30*time.Second)
	shot(phone, "chat.png")

	browsertest.Run(t, ctx, "list", 20*time.Second, chromedp.Navigate(base+"/console/broadcasts"), chromedp.WaitVisible("table.list", chromedp.ByQuery))
	shot(ctx, "broadcasts.png")

	uploadRecords(t, ctx, base, "ho-so-thang-12.csv",
		"TB-2026-100001,Trần Thị Thử,1950-03-04,000000121234,0900000111,Trần Lãm,elderly,approved,2026-11-02T08:00:00+07:00,750000,2026-12,\n"+
			"TB-2026-100002,Nguyễn Văn Thử,1950-13-04,000000121235,0900000112,Vũ Phúc,elderly,received,2026-11-02T08:00:00+07:00,,,\n"+
			"TB-2026-100003,Lê Thị Mẫu,1948-07-21,000000121236,0900000113,Vũ Phúc,elderly,in_review,2026-11-02T08:00:00+07:00,,,\n"+
			"TB-2026-100004,Phạm Văn Thử,1955-01-01,00000012123,0900000114,Atlantis,disability,received,2026-11-02T08:00:00+07:00,,,\n")
	shot(ctx, "records.png")
	browsertest.Run(t, ctx, "staff", 20*time.Second, chromedp.Navigate(base+"/console/staff"), chromedp.WaitVisible("#accounts", chromedp.ByID))
	shot(ctx, "staff.png")
	browsertest.Run(t, ctx, "audit", 20*time.Second, chromedp.Navigate(base+"/console/audit"), chromedp.WaitVisible("#audit", chromedp.ByID))
	shot(ctx, "audit.png")

	// Cases: the phone's citizen asks for an officer; the inbox shows it, the officer answers
	// with a canned reply, the answer reaches the phone.
	say(t, phone, "gặp cán bộ") // the conversation knows the commune (the application checked above)
	waitText(t, phone, ".gwc-bot .gwc-text", "PA-2026", 20*time.Second)
	say(t, phone, "Mẹ tôi 82 tuổi, tháng này chưa nhận được tiền. Nhờ cán bộ xem giúp.")
	waitText(t, phone, ".gwc-bot .gwc-text", "chuyển lời", 20*time.Second)
	browsertest.Run(t, ctx, "inbox", 20*time.Second, chromedp.Navigate(base+"/console/cases"), chromedp.WaitVisible("#inbox", chromedp.ByID))
	waitText(t, ctx, "#inbox tbody", "Nhờ cán bộ xem giúp", 20*time.Second)
	shot(ctx, "inbox.png")
	browsertest.Run(t, ctx, "open the case", 20*time.Second, chromedp.Evaluate(`Array.from(document.querySelectorAll("#inbox tbody tr")).find(tr => tr.innerText.includes("Nhờ cán bộ")).querySelector("a").click()`, nil),
		chromedp.WaitVisible("#timeline", chromedp.ByID),
		chromedp.Click("#take", chromedp.ByID), chromedp.WaitVisible(".flash", chromedp.ByQuery),
		chromedp.WaitVisible("#canned", chromedp.ByID),
		chromedp.SetValue("#canned", "call_back", chromedp.ByID),
		chromedp.Evaluate(`document.getElementById("canned").dispatchEvent(new Event("change"))`, nil))
	shot(ctx, "case.png")
	browsertest.Run(t, ctx, "answer", 20*time.Second, chromedp.Click("#send-reply", chromedp.ByID))
	waitText(t, ctx, ".flash", "Đã gửi trả lời", 20*time.Second)
	waitText(t, ctx, "#timeline .dlv", "đã gửi", 30*time.Second)
	waitText(t, phone, ".gwc-bot .gwc-text", "sẽ gọi lại", 30*time.Second)
	shot(phone, "chat-case.png")
	browsertest.Run(t, ctx, "dashboard", 20*time.Second, chromedp.Navigate(base+"/console/dashboard?period=7"), chromedp.WaitVisible("#kpis", chromedp.ByID))
	shot(ctx, "dashboard.png")

	// The composer on a phone.
	small, _ := browsertest.New(t, browsertest.Options{Width: 412, Height: 880, Mobile: true})
	login(t, small, base, "tran.lam", testPassword)
	browsertest.Run(t, small, "composer on a phone", 20*time.Second,
		chromedp.Navigate(base+"/console/broadcasts/new"), chromedp.WaitVisible("#compose", chromedp.ByID),
		chromedp.SendKeys("#text_vi", "Lịch chi trả tháng 12 của Trần Lãm: ngày 12/12 tại UBND phường.", chromedp.ByID))
	waitText(t, small, "#pv-sms .sms-box", "Lich chi tra", 20*time.Second)
	shot(small, "composer-phone.png")
	browsertest.Run(t, small, "inbox on a phone", 20*time.Second, chromedp.Navigate(base+"/console/cases?view=all&status=any"), chromedp.WaitVisible("#inbox", chromedp.ByID))
	shot(small, "inbox-phone.png")
}

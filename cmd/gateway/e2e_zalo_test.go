package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/audience"
	"github.com/socialaid-vn/gateway/zalo/zalotest"
)

// End-to-end tests of the Zalo channel: the real server with the real core and the demo data,
// a fake Zalo behind ZALO_API_URL / ZALO_OAUTH_URL / ZALO_ZNS_URL, webhooks signed as Zalo signs
// them.

const (
	e2eZaloApp    = "4318300000000000001"
	e2eZaloSecret = "zalo-app-secret"
	e2eZaloOAKey  = "zalo-oa-secret-key"
	e2eZaloRT     = "RT-first"
)

func zaloVars(fake *zalotest.Server) map[string]string {
	return map[string]string{
		"ZALO_APP_ID": e2eZaloApp, "ZALO_APP_SECRET": e2eZaloSecret, "ZALO_OA_SECRET_KEY": e2eZaloOAKey,
		"ZALO_REFRESH_TOKEN": e2eZaloRT,
		"ZALO_API_URL":       fake.URL, "ZALO_OAUTH_URL": fake.URL, "ZALO_ZNS_URL": fake.URL,
		"ADMIN_TOKEN": "staff-secret",
	}
}

func TestE2EZalo(t *testing.T) {
	t.Parallel()
	fake := zalotest.New(e2eZaloApp, e2eZaloSecret, e2eZaloOAKey, e2eZaloRT)
	t.Cleanup(fake.Close)
	srv := newE2EServer(t, zaloVars(fake))
	if srv.zalo == nil {
		t.Fatal("ZALO_APP_ID set but no Zalo channel")
	}
	base := serveE2E(t, srv)
	hook := base + "/zalo/webhook"
	seq := 0
	// say sends one message from user and returns the texts Zalo got for that user meanwhile.
	say := func(t *testing.T, user, text string, replies int) []zalotest.Sent {
		t.Helper()
		before := len(fake.SentTo(user))
		seq++
		code, err := fake.Text(hook, user, text, fmt.Sprintf("e2e-%04d", seq))
		if err != nil || code != http.StatusOK {
			t.Fatalf("webhook answered %d, %v", code, err)
		}
		eventually(t, 10*time.Second, fmt.Sprintf("%d replies to %q", replies, text), func() bool {
			return len(fake.SentTo(user)) >= before+replies
		})
		got := fake.SentTo(user)[before:]
		for _, m := range got {
			for _, name := range demoFullNames {
				if strings.Contains(m.Text, name) {
					t.Errorf("a reply shows the full name %q:\n%s", name, m.Text)
				}
			}
		}
		return got
	}

	const elder = "5512345678901234501"
	t.Run("greeting with the menu as buttons", func(t *testing.T) {
		got := say(t, elder, "xin chào", 2)
		if !strings.Contains(got[0].Text, "Xin chào") || len(got[0].Buttons) != 5 || len(got[1].Buttons) != 4 {
			t.Fatalf("greeting %+v", got)
		}
		payloads := []string{}
		for _, m := range got {
			for _, b := range m.Buttons {
				payloads = append(payloads, b.Payload)
			}
		}
		if strings.Join(payloads, " ") != "/eligibility /amount /payment /documents /status /subscribe /complaint /staff /lang en" {
			t.Errorf("menu payloads %q", payloads)
		}
		if got[0].ReplyTo != "e2e-0001" || fake.Stats().Proactive != 0 {
			t.Errorf("the greeting is not a free reply to the user's message: %+v, %+v", got[0], fake.Stats())
		}
	})
	t.Run("a button press and a verified status", func(t *testing.T) {
		got := say(t, elder, "/status", 1) // what the "Hồ sơ của tôi" button sends back
		if !strings.Contains(strings.ToLower(got[0].Text), "mã hồ sơ") {
			t.Errorf("status question answered %q", got[0].Text)
		}
		got = say(t, elder, "TT TB-2025-000123 4567", 1)
		if !strings.Contains(got[0].Text, "TB-2025-000123") {
			t.Errorf("status answer %q", got[0].Text)
		}
	})
	t.Run("forged webhook", func(t *testing.T) {
		body := fake.Event("user_send_text", elder, "TT TB-2025-000123 4567", "forged-1", time.Now())
		before := len(fake.SentTo(elder))
		for _, sig := range []string{"", "mac=" + strings.Repeat("a", 64)} {
			if code, _ := fake.PostSigned(hook, body, sig, nil); code != http.StatusUnauthorized {
				t.Errorf("signature %q answered %d, want 401", sig, code)
			}
		}
		// A genuine message after it is answered; the forged one never was.
		say(t, elder, "cảm ơn", 1)
		if n := len(fake.SentTo(elder)) - before; n != 1 {
			t.Errorf("%d replies, want only the genuine message's", n)
		}
	})
	t.Run("repeated msg_id", func(t *testing.T) {
		body := fake.Event("user_send_text", elder, "mức trợ cấp bao nhiêu", "same-id", time.Now())
		before := len(fake.SentTo(elder))
		for i := 0; i < 3; i++ {
			if code, _ := fake.Post(hook, body); code != http.StatusOK {
				t.Fatalf("delivery %d answered %d", i, code)
			}
		}
		eventually(t, 10*time.Second, "the answer", func() bool { return len(fake.SentTo(elder)) > before })
		say(t, elder, "cảm ơn", 1) // handled after the duplicates (same user, same shard)
		seen := map[string]bool{}
		answers := 0
		for _, m := range fake.SentTo(elder)[before:] {
			if m.ReplyTo != "same-id" {
				continue
			}
			answers++
			if seen[m.Text] {
				t.Errorf("the repeated message was answered twice: %q", m.Text)
			}
			seen[m.Text] = true
		}
		if answers == 0 {
			t.Error("the message was not answered")
		}
	})
	t.Run("after the access token expired", func(t *testing.T) {
		fake.ExpireAccessTokens()
		say(t, elder, "khi nào nhận tiền ở Vũ Phúc", 1)
		if st := fake.Stats(); len(st.Reused) != 0 || st.Refused != 0 || st.Refreshes != 2 {
			t.Errorf("fake saw %+v: want two refreshes, no refresh token sent twice", st)
		}
	})
	t.Run("readyz shows the token state", func(t *testing.T) {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "zalo: ok") {
			t.Errorf("readyz %d %q", resp.StatusCode, body)
		}
	})

	t.Run("broadcast reaches subscribers once and reports the one outside the window", func(t *testing.T) {
		ctx := context.Background()
		users := []string{"5512345678901234511", "5512345678901234512", "5512345678901234513"}
		for _, u := range users {
			got := say(t, u, "/subscribe Vũ Phúc", 1)
			if !strings.Contains(got[0].Text, "Vũ Phúc") {
				t.Fatalf("subscription answered %q", got[0].Text)
			}
		}
		// Subscribed long ago, has not written since: outside the reply window.
		const quiet = "5512345678901234599"
		if err := srv.aud.Subscribe(ctx, audience.Subscriber{Channel: gateway.Zalo, ID: quiet, Commune: "Vũ Phúc"}); err != nil {
			t.Fatal(err)
		}
		req := `{"text": {"vi": "Tiền trợ cấp tháng 12 của xã Vũ Phúc chi trả ngày 10/12 tại nhà văn hóa thôn."},
		         "audience": {"communes": ["Vũ Phúc"], "channels": ["zalo"]}}`
		code, out := staffCall(t, base, "POST", "/api/broadcasts", req)
		if code != http.StatusAccepted || out["recipients"] != 4.0 {
			t.Fatalf("POST /api/broadcasts = %d %v", code, out)
		}
		id, _ := out["id"].(string)
		var rep map[string]any
		eventually(t, 20*time.Second, "the broadcast to finish", func() bool {
			_, rep = staffCall(t, base, "GET", "/api/broadcasts/"+id, "")
			return rep["status"] == "done"
		})
		failed, _ := rep["failed"].(map[string]any)
		if rep["sent"] != 3.0 || failed["outside_reply_window"] != 1.0 {
			t.Errorf("report %v: want 3 sent and 1 outside_reply_window", rep)
		}
		for _, u := range append(users, quiet) {
			n := 0
			for _, m := range fake.SentTo(u) {
				if strings.Contains(m.Text, "chi trả ngày 10/12") {
					n++
				}
			}
			want := 1
			if u == quiet {
				want = 0
			}
			if n != want {
				t.Errorf("user %s got the broadcast %d times, want %d", u, n, want)
			}
		}
	})

	t.Run("a verified viewer on Zalo is told of a status change", func(t *testing.T) {
		before := len(fake.SentTo(elder))
		line := `{"code":"TB-2025-000123","full_name":"Nguyễn Ngọc Mẫu","birth_date":"1997-05-11","citizen_id":"000000804567",` +
			`"phone":"0900000123","commune":"Đông Hợp","category":"single_parent","status":"suspended","updated_at":"` +
			time.Now().Add(-time.Hour).Format(time.RFC3339) + `","monthly_amount":"1000000","start_month":"2026-09","note":""}`
		code, out := staffCall(t, base, "POST", "/api/applications", line+"\n")
		if code != http.StatusOK || out["status_changes"] != 1.0 {
			t.Fatalf("POST /api/applications = %d %v", code, out)
		}
		eventually(t, 20*time.Second, "the notification on Zalo", func() bool { return len(fake.SentTo(elder)) > before })
		got := fake.SentTo(elder)[before]
		if !strings.Contains(got.Text, "TB-2025-000123") || strings.Contains(got.Text, "Nguyễn Ngọc Mẫu") {
			t.Errorf("notification %q", got.Text)
		}
	})
}

func staffCall(t *testing.T, base, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer staff-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// A verified viewer who has not written for two days is told of a status change by ZNS, to the
// phone they shared in Zalo's form, with the template filled from the notification.
func TestE2EZaloNotificationByZNSOutsideTheWindow(t *testing.T) {
	t.Parallel()
	fake := zalotest.New(e2eZaloApp, e2eZaloSecret, e2eZaloOAKey, e2eZaloRT)
	t.Cleanup(fake.Close)
	vars := zaloVars(fake)
	vars["ZALO_ZNS_NOTIFICATION_TEMPLATE"] = "402515"
	srv := newE2EServer(t, vars)
	base := serveE2E(t, srv)
	hook := base + "/zalo/webhook"
	const user = "5512345678901234577"
	post := func(body []byte) {
		t.Helper()
		if code, err := fake.Post(hook, body); err != nil || code != http.StatusOK {
			t.Fatalf("webhook answered %d %v", code, err)
		}
	}
	post(fake.Event("user_send_text", user, "TT TB-2025-000007 2096", "z-1", time.Now()))
	eventually(t, 10*time.Second, "the status answer", func() bool { return len(fake.SentTo(user)) >= 1 })
	info := strings.Replace(string(fake.Event("user_submit_info", user, "", "z-2", time.Now())), `"message"`,
		`"info":{"name":"Thử","phone":"0900000777"},"message"`, 1)
	post([]byte(info))
	eventually(t, 10*time.Second, "the thanks for the phone", func() bool { return len(fake.SentTo(user)) >= 2 })

	// Two days pass without a message from the user.
	ctx := context.Background()
	if err := srv.conn.Client.HSet(ctx, "zalo:{zalo}:win:"+user, "in", time.Now().Add(-49*time.Hour).UnixMilli()).Err(); err != nil {
		t.Fatal(err)
	}
	line := `{"code":"TB-2025-000007","full_name":"Phạm Thị Mô Phỏng","birth_date":"1931-04-23","citizen_id":"000000222096",` +
		`"phone":"0900000007","commune":"Hưng Hà","category":"elderly","status":"approved","updated_at":"` +
		time.Now().Add(-time.Hour).Format(time.RFC3339) + `","monthly_amount":"500000","start_month":"2026-12","note":""}`
	code, out := staffCall(t, base, "POST", "/api/applications", line+"\n")
	if code != http.StatusOK || out["status_changes"] != 1.0 {
		t.Fatalf("POST /api/applications = %d %v", code, out)
	}
	eventually(t, 20*time.Second, "the ZNS message", func() bool { return len(fake.ZNSSent()) == 1 })
	z := fake.ZNSSent()[0]
	if z.Phone != "84900000777" || z.TemplateID != "402515" || z.Data["code"] != "TB-2025-000007" || z.Data["status"] == "" {
		t.Errorf("ZNS %+v", z)
	}
}

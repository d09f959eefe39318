package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/socialaid-vn/gateway/config"
	"github.com/socialaid-vn/gateway/internal/logtest"
)

// With no configuration, serve creates a demo admin and prints its one-time password in the
// start-up line; signing in with it leads to the change-password page first.
func TestEmbeddedDemoAdminSignsInWithThePrintedPassword(t *testing.T) {
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	var logs logtest.Buffer
	srv, err := newServer(context.Background(), cfg, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Error(err)
		}
	}()
	var line struct{ Msg, ConsoleUser, ConsolePassword, Console, WebChat string }
	eventually(t, 10*time.Second, "the start-up line", func() bool {
		for _, l := range strings.Split(logs.String(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "gateway serving" {
				line.ConsoleUser, _ = m["console_user"].(string)
				line.ConsolePassword, _ = m["console_password"].(string)
				line.Console, _ = m["console"].(string)
				line.WebChat, _ = m["web_chat"].(string)
				return true
			}
		}
		return false
	})
	if line.ConsoleUser != "admin" || len(line.ConsolePassword) < 12 || !strings.HasSuffix(line.Console, "/console/") || !strings.HasSuffix(line.WebChat, "/") {
		t.Fatalf("start-up line %+v", line)
	}
	base := "http://" + ln.Addr().String()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	// A form posted from another site is refused before anything else.
	req, _ := http.NewRequest("POST", base+"/console/login", strings.NewReader(url.Values{"username": {"admin"}, "password": {line.ConsolePassword}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin login post: %d, want 403", resp.StatusCode)
	}
	resp, err = c.PostForm(base+"/console/login", url.Values{"username": {"admin"}, "password": {line.ConsolePassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/password" {
		t.Fatalf("demo admin login: %d → %q, want the change-password page", resp.StatusCode, resp.Header.Get("Location"))
	}
	// Until the password is changed, every page leads there.
	resp, err = c.Get(base + "/console/broadcasts")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Location") != "/console/password" {
		t.Fatalf("before changing the password: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// A web-chat visitor who verified an application is told, as an event, when its status changes
// (a change event from the system of record through POST /api/applications).
func TestWebChatVerifiedViewerGetsTheStatusChange(t *testing.T) {
	srv := newE2EServer(t, map[string]string{"ADMIN_TOKEN": "tok"})
	base := serveE2E(t, srv)
	citizen := newSSEClient(t, base, "TT TB-2025-000123 4567")
	line := `{"code":"TB-2025-000123","full_name":"Nguyễn Ngọc Mẫu","birth_date":"1997-05-11","citizen_id":"000000804567","phone":"0900000123","commune":"Đông Hợp","category":"single_parent","status":"suspended","updated_at":"2026-11-20T09:00:00+07:00","monthly_amount":"1000000","start_month":"2026-09","note":""}`
	req, _ := http.NewRequest("POST", base+"/api/applications", strings.NewReader(line+"\n"))
	req.Header.Set("Authorization", "Bearer tok")
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("change event: %d", resp.StatusCode)
	}
	select {
	case ev := <-citizen.events:
		if !strings.Contains(ev, "TB-2025-000123") || !strings.Contains(ev, `"kind":"notification"`) {
			t.Fatalf("event %s", ev)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no status-change notification reached the web chat")
	}
}

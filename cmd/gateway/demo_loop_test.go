package main

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/socialaid-vn/gateway/internal/logtest"
)

// The embedded demo's whole loop from `gateway serve` with no configuration: the console opens
// on demo cases, a web-chat citizen files a complaint, it appears in the inbox, and a reply
// typed in the console reaches the web chat as an event.
func TestServeDemoLoopFromTheWebChatToTheConsoleAndBack(t *testing.T) {
	var logs logtest.Buffer
	env := &environ{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &logs,
		getenv: func(k string) string { return map[string]string{"HTTP_ADDR": "127.0.0.1:0"}[k] }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- run(ctx, env, []string{"serve"}) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("serve exited %d:\n%s", code, logs.String())
			}
		case <-time.After(15 * time.Second):
			t.Error("serve did not stop")
		}
	})
	var addr, password string
	eventually(t, 20*time.Second, "the start-up line", func() bool {
		for _, l := range strings.Split(logs.String(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "gateway serving" {
				addr, _ = m["addr"].(string)
				password, _ = m["console_password"].(string)
				return true
			}
		}
		return false
	})
	if !strings.Contains(logs.String(), `"msg":"demo cases loaded`) {
		t.Errorf("no demo cases line:\n%s", logs.String())
	}
	base := "http://" + addr
	jar, _ := cookiejar.New(nil)
	staffC := &http.Client{Jar: jar}
	get := func(path string) string {
		t.Helper()
		resp, err := staffC.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		return html.UnescapeString(string(b))
	}
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	postForm := func(path, token string, v url.Values) (int, string) {
		t.Helper()
		v.Set("csrf", token)
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		resp, err := staffC.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, html.UnescapeString(string(b))
	}
	// The demo admin signs in with the printed password and chooses its own.
	resp, err := staffC.PostForm(base+"/console/login", url.Values{"username": {"admin"}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	page := get("/console/password")
	if code, _ := postForm("/console/password", csrf.FindStringSubmatch(page)[1], url.Values{"current": {password}, "new": {testPassword}, "repeat": {testPassword}}); code != 200 {
		t.Fatalf("change password: %d", code)
	}
	inbox := get("/console/cases")
	if !strings.Contains(inbox, "[Mẫu]") {
		t.Fatalf("the demo's inbox has no demo cases:\n%s", inbox)
	}

	// A citizen complains in the web chat.
	citizen := newSSEClient(t, base, "tôi muốn khiếu nại: tháng 11 mẹ tôi chưa nhận được tiền trợ cấp", "/case send", "Vũ Phúc")
	rows := regexp.MustCompile(`(?s)<tr data-code="(PA-\d{4}-\d{6})".*?</tr>`)
	code := ""
	eventually(t, 10*time.Second, "the complaint in the inbox", func() bool {
		for _, m := range rows.FindAllStringSubmatch(get("/console/cases"), -1) {
			if strings.Contains(m[0], "tháng 11 mẹ tôi chưa nhận được tiền") {
				code = m[1]
			}
		}
		return code != ""
	})
	page = get("/console/cases/" + code)
	status, body := postForm("/console/cases/"+code+"/reply", csrf.FindStringSubmatch(page)[1], url.Values{"text": {"Dạ, xã sẽ chi bù tiền tháng 11 vào ngày 10/12 ạ."}})
	if status != 200 || !strings.Contains(body, "Đã gửi trả lời") {
		t.Fatalf("reply: %d", status)
	}
	select {
	case ev := <-citizen.events:
		if !strings.Contains(ev, "chi bù tiền tháng 11") || !strings.Contains(ev, code) {
			t.Fatalf("the citizen got %s", ev)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the reply did not reach the web chat")
	}
}

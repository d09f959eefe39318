package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/cases"
	"github.com/socialaid-vn/gateway/staff"
)

// /api/cases and /api/stats take console sessions, with their roles and communes, like
// /api/broadcasts; without ADMIN_TOKEN set a bearer token opens nothing, and without a session
// every request is 401.
func TestCasesAndStatsAPIForConsoleSessions(t *testing.T) {
	srv := newE2EServer(t, map[string]string{}) // no ADMIN_TOKEN
	base := serveE2E(t, srv)
	bg := context.Background()
	for _, a := range []struct {
		user     string
		role     staff.Role
		communes []string
	}{{"lan", staff.Officer, []string{"Vũ Phúc"}}, {"xem", staff.Viewer, nil}, {"xemvp", staff.Viewer, []string{"Vũ Phúc"}}} {
		if _, err := srv.staff.Add(bg, a.user, a.role, a.communes, testPassword, false); err != nil {
			t.Fatal(err)
		}
	}
	open := func(commune string) string {
		c, err := srv.cases.OpenForCitizen(bg, cases.NewCase{Kind: cases.Complaint, Channel: gateway.SMS, Address: "+84900000901", Commune: commune, Text: "chưa nhận tiền"})
		if err != nil {
			t.Fatal(err)
		}
		return c.Code
	}
	vp, tl := open("Vũ Phúc"), open("Trần Lãm")
	session := func(user string) *http.Client {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		if user == "" {
			return c
		}
		resp, err := c.PostForm(base+"/console/login", url.Values{"username": {user}, "password": {testPassword}})
		if err != nil || resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("login %s: %v %v", user, resp, err)
		}
		resp.Body.Close()
		return c
	}
	call := func(c *http.Client, method, path, body, bearer string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		if method == "POST" {
			req.Header.Set("Sec-Fetch-Site", "same-origin")
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	nobody, lan, xem, xemvp := session(""), session("lan"), session("xem"), session("xemvp")
	for _, path := range []string{"/api/cases", "/api/cases/" + vp, "/api/stats"} {
		if code, _ := call(nobody, "GET", path, "", ""); code != http.StatusUnauthorized {
			t.Errorf("GET %s without a session: %d, want 401", path, code)
		}
		if code, _ := call(nobody, "GET", path, "", "guess"); code != http.StatusUnauthorized {
			t.Errorf("GET %s with a bearer token while ADMIN_TOKEN is unset: %d, want 401", path, code)
		}
	}
	if code, body := call(lan, "GET", "/api/cases", "", ""); code != 200 || !strings.Contains(body, vp) || strings.Contains(body, tl) {
		t.Errorf("officer's list: %d %s", code, body)
	}
	if code, _ := call(lan, "GET", "/api/cases/"+tl, "", ""); code != http.StatusNotFound {
		t.Errorf("officer reading another commune's case: %d, want 404", code)
	}
	if code, _ := call(lan, "POST", "/api/cases/"+vp+"/notes", `{"text":"Đã gọi lại."}`, ""); code != http.StatusCreated {
		t.Errorf("officer's note: %d", code)
	}
	// A form of another site posting with the officer's cookie is refused.
	req, _ := http.NewRequest("POST", base+"/api/cases/"+vp+"/notes", strings.NewReader(`{"text":"x"}`))
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if resp, err := lan.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site post to the API: %v %v", resp, err)
	}
	if code, _ := call(xem, "GET", "/api/cases", "", ""); code != http.StatusForbidden {
		t.Errorf("viewer listing cases: %d, want 403", code)
	}
	// Figures: an officer and a viewer tied to Vũ Phúc get Vũ Phúc's, a viewer of all every commune.
	figures := func(c *http.Client) map[string]any {
		code, body := call(c, "GET", "/api/stats", "", "")
		var rep struct{ Communes map[string]any }
		if code != 200 || json.Unmarshal([]byte(body), &rep) != nil {
			t.Fatalf("stats: %d %s", code, body)
		}
		return rep.Communes
	}
	for name, c := range map[string]*http.Client{"officer": lan, "viewer of Vũ Phúc": xemvp} {
		if got := figures(c); len(got) != 1 || got["Vũ Phúc"] == nil {
			t.Errorf("%s's figures cover %v", name, got)
		}
	}
	if got := figures(xem); got["Vũ Phúc"] == nil || got["Trần Lãm"] == nil {
		t.Errorf("viewer of all: %v", got)
	}
}

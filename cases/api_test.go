package cases_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/socialaid-vn/gateway/cases"
)

// api calls the staff API of f as the ADMIN_TOKEN holder (token "" sends none).
func api(t *testing.T, h http.Handler, token, method, path, body string) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("%s %s: %d, not JSON: %q", method, path, rec.Code, rec.Body.String())
	}
	return rec.Code, out
}

func TestStaffAPI(t *testing.T) {
	f := newFixture(t, at(2026, 3, 2, 9, 0))
	h := f.svc.APIHandler(cases.BearerToken("s3cret-token"))
	const tok = "s3cret-token"

	// Without the token, or with a wrong one: 401, and nothing is read.
	for _, tk := range []string{"", "wrong"} {
		if code, _ := api(t, h, tk, "GET", "/api/cases", ""); code != http.StatusUnauthorized {
			t.Errorf("token %q: %d", tk, code)
		}
		if code, _ := api(t, h, tk, "POST", "/api/cases", `{"kind":"complaint","commune":"Vũ Phúc","text":"x"}`); code != http.StatusUnauthorized {
			t.Errorf("create with token %q: %d", tk, code)
		}
	}

	// A case staff enter from a phone call.
	code, c := api(t, h, tok, "POST", "/api/cases", `{"kind":"complaint","commune":"vu phuc","text":"Bà Thử gọi điện: tháng 2 chưa nhận tiền.","channel":"sms","address":"+84900000005"}`)
	if code != http.StatusCreated || c["code"] != "PA-2026-000001" || c["commune"] != "Vũ Phúc" || c["source"] != "staff" {
		t.Fatalf("create: %d %v", code, c)
	}
	caseCode := c["code"].(string)

	code, pg := api(t, h, tok, "GET", "/api/cases?status=open&commune=V%C5%A9%20Ph%C3%BAc", "")
	list, _ := pg["cases"].([]any)
	if code != 200 || len(list) != 1 || pg["next"] != "" {
		t.Fatalf("list: %d %v", code, pg)
	}
	if addr := list[0].(map[string]any)["address"]; addr != "+84*******05" {
		t.Errorf("listed address %v (want masked)", addr)
	}
	code, one := api(t, h, tok, "GET", "/api/cases/"+caseCode, "")
	if code != 200 || one["address"] != "+84900000005" || len(one["timeline"].([]any)) != 1 {
		t.Errorf("get: %d %v", code, one)
	}

	code, ev := api(t, h, tok, "POST", "/api/cases/"+caseCode+"/replies", `{"text":"Dạ, xã sẽ chi bù ngày 10/3 ạ."}`)
	if code != http.StatusCreated || ev["type"] != "reply" || ev["delivery"].(map[string]any)["state"] != "queued" {
		t.Errorf("reply: %d %v", code, ev)
	}
	if code, ev = api(t, h, tok, "POST", "/api/cases/"+caseCode+"/notes", `{"text":"Đã báo kế toán."}`); code != http.StatusCreated {
		t.Errorf("note: %d %v", code, ev)
	}
	if code, ev = api(t, h, tok, "POST", "/api/cases/"+caseCode+"/assign", `{"to":"telegram:101"}`); code != 200 || ev["to"] != "telegram:101" {
		t.Errorf("assign: %d %v", code, ev)
	}
	if code, ev = api(t, h, tok, "POST", "/api/cases/"+caseCode+"/close", `{"resolution":"Đã chi bù ngày 10/3."}`); code != 200 || ev["status"] != "closed" {
		t.Errorf("close: %d %v", code, ev)
	}
	if code, ev = api(t, h, tok, "POST", "/api/cases/"+caseCode+"/close", `{"resolution":"lần nữa"}`); code != http.StatusConflict || !strings.Contains(ev["error"].(string), "closed") {
		t.Errorf("close twice: %d %v", code, ev)
	}
	if code, _ = api(t, h, tok, "POST", "/api/cases/"+caseCode+"/reopen", ""); code != 200 {
		t.Errorf("reopen: %d", code)
	}
	if code, _ = api(t, h, tok, "POST", "/api/cases/"+caseCode+"/reopen", ""); code != http.StatusConflict {
		t.Errorf("reopen an open case: %d", code)
	}

	// Bad input: a clear 400 each, and nothing recorded.
	bad := []struct{ path, body, want string }{
		{"/api/cases/" + caseCode + "/replies", `{"text":""}`, "text is empty"},
		{"/api/cases/" + caseCode + "/replies", `{"text":"` + strings.Repeat("a", 20000) + `"}`, "20000 characters, at most 2000"},
		{"/api/cases/" + caseCode + "/replies", "{\"text\":\"ti\xffn\"}", "not valid UTF-8"},
		{"/api/cases/" + caseCode + "/replies", `{"text":"a\udc00b"}`, "not valid UTF-8"},
		{"/api/cases/" + caseCode + "/replies", `{"txt":"hi"}`, "unknown field"},
		{"/api/cases/" + caseCode + "/replies", `{"text":"a"} {"text":"b"}`, "trailing data"},
		{"/api/cases/" + caseCode + "/notes", `not json`, "bad JSON"},
		{"/api/cases/" + caseCode + "/assign", `{"to":""}`, "to is empty"},
		{"/api/cases", `{"kind":"rumour","commune":"Vũ Phúc","text":"x"}`, "kind"},
		{"/api/cases", `{"kind":"complaint","commune":"Hà Nội","text":"x"}`, "unknown commune"},
		{"/api/cases", `{"kind":"complaint","commune":"Vũ Phúc","text":"` + strings.Repeat("b", 20000) + `"}`, "at most 4000"},
	}
	for _, b := range bad {
		code, out := api(t, h, tok, "POST", b.path, b.body)
		if code != http.StatusBadRequest || !strings.Contains(out["error"].(string), b.want) {
			t.Errorf("POST %s %.40s: %d %v, want 400 %q", b.path, b.body, code, out, b.want)
		}
	}
	for _, q := range []string{"?status=lost", "?kind=x", "?overdue=maybe", "?cursor=%21%21", "?limit=0x", "?commune=Atlantis"} {
		if code, _ := api(t, h, tok, "GET", "/api/cases"+q, ""); code != http.StatusBadRequest {
			t.Errorf("GET /api/cases%s: %d", q, code)
		}
	}
	_, one = api(t, h, tok, "GET", "/api/cases/"+caseCode, "")
	if n := len(one["timeline"].([]any)); n != 6 {
		t.Errorf("%d events after the refused requests, want 6", n)
	}

	// With the clock past the resolution deadline (16 March), the case is listed as overdue.
	if _, pg := api(t, h, tok, "GET", "/api/cases?overdue=true", ""); len(pg["cases"].([]any)) != 0 {
		t.Errorf("overdue before its deadline: %v", pg)
	}
	f.clock.Set(at(2026, 3, 17, 8, 0))
	if _, pg := api(t, h, tok, "GET", "/api/cases?overdue=true", ""); len(pg["cases"].([]any)) != 1 || pg["cases"].([]any)[0].(map[string]any)["overdue"] != true {
		t.Errorf("overdue list: %v", pg)
	}

	// Unknown codes in every endpoint: 404.
	for _, path := range []string{"/api/cases/PA-2026-999999", "/api/cases/garbage"} {
		if code, _ := api(t, h, tok, "GET", path, ""); code != http.StatusNotFound {
			t.Errorf("GET %s: %d", path, code)
		}
		for _, action := range []string{"/replies", "/notes", "/assign", "/close", "/reopen"} {
			body := `{"text":"x"}`
			switch action {
			case "/assign":
				body = `{"to":"x"}`
			case "/close":
				body = `{"resolution":"x"}`
			case "/reopen":
				body = ""
			}
			if code, _ := api(t, h, tok, "POST", path+action, body); code != http.StatusNotFound {
				t.Errorf("POST %s%s: %d", path, action, code)
			}
		}
	}
	// A body over 64 KiB.
	req := httptest.NewRequest("POST", "/api/cases/"+caseCode+"/notes", bytes.NewReader(bytes.Repeat([]byte("a"), 70<<10)))
	req.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("big body: %d", rec.Code)
	}
}

// A console principal restricted to a commune, read-only, through the same handler.
func TestAPIWithAnotherAuthorizer(t *testing.T) {
	f := newFixture(t, at(2026, 3, 2, 9, 0))
	vp := f.complaint(t, "Vũ Phúc", "+84900000001", "a")
	kx := f.complaint(t, "Kiến Xương", "+84900000002", "b")
	h := f.svc.APIHandler(authFunc(func(r *http.Request) (cases.Principal, error) {
		if r.Header.Get("X-User") != "lan" {
			return cases.Principal{}, cases.ErrUnauthorized
		}
		return cases.Principal{ID: "console:lan", Communes: []string{"Kiến Xương"}, ReadOnly: true}, nil
	}))
	req := func(method, path, body string) int {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("X-User", "lan")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec.Code
	}
	if c := req("GET", "/api/cases/"+kx.Code, ""); c != 200 {
		t.Errorf("own commune: %d", c)
	}
	if c := req("GET", "/api/cases/"+vp.Code, ""); c != 404 {
		t.Errorf("other commune: %d", c)
	}
	if c := req("POST", "/api/cases/"+kx.Code+"/notes", `{"text":"x"}`); c != 403 {
		t.Errorf("read-only note: %d", c)
	}
}

type authFunc func(r *http.Request) (cases.Principal, error)

func (f authFunc) Authorize(r *http.Request) (cases.Principal, error) { return f(r) }

func TestExportWritesOneCaseALine(t *testing.T) {
	f := newFixture(t, at(2026, 3, 2, 9, 0))
	a := f.complaint(t, "Vũ Phúc", "+84900000001", "một")
	f.clock.Set(at(2026, 4, 2, 9, 0))
	b := f.complaint(t, "Vũ Phúc", "+84900000001", "hai")
	f.svc.Reply(t.Context(), cases.Admin, b.Code, "trả lời")
	var buf bytes.Buffer
	n, err := f.svc.Export(t.Context(), &buf, at(2026, 4, 1, 0, 0), at(2026, 5, 1, 0, 0))
	if err != nil || n != 1 {
		t.Fatalf("export %d %v", n, err)
	}
	var got cases.Case
	if err := json.Unmarshal(bytes.TrimSpace(buf.Bytes()), &got); err != nil || got.Code != b.Code || len(got.Timeline) != 2 || got.Address != "+84900000001" {
		t.Errorf("exported %+v %v", got, err)
	}
	buf.Reset()
	if n, _ := f.svc.Export(t.Context(), &buf, at(2026, 1, 1, 0, 0), at(2027, 1, 1, 0, 0)); n != 2 || !strings.HasPrefix(buf.String(), `{"code":"`+a.Code) {
		t.Errorf("export all: %d\n%s", n, buf.String())
	}
}

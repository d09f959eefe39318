package lookup

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func jsonRow(code, status, updated string) string {
	return `{"code":"` + code + `","full_name":"Lê Thị Mẫu","birth_date":"1950-02-03","citizen_id":"000000125555","phone":"0900000555","commune":"Tiền Hải","category":"elderly","status":"` + status + `","updated_at":"` + updated + `","monthly_amount":"","start_month":"","note":""}`
}

func TestChangesHandler(t *testing.T) {
	s, rdb := newStore(t)
	h := s.ChangesHandler("s3cret-token")
	post := func(auth, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/api/applications", strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		req.Header.Set("Content-Type", "application/x-ndjson")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	body := jsonRow("TB-7001", "received", "2026-03-01T08:00:00+07:00") + "\n" +
		`{"code":"TB-7002","status":"paying"}` + "\n" +
		jsonRow("TB-7003", "in_review", "2026-03-01T08:00:00+07:00") + "\n"

	for _, auth := range []string{"", "Bearer wrong", "s3cret-token", "Bearer s3cret-token "} {
		if w := post(auth, body); w.Code != http.StatusUnauthorized {
			t.Errorf("auth %q: status %d", auth, w.Code)
		}
	}
	if n, _ := rdb.Exists(context.Background(), appKey("TB7001")).Result(); n != 0 {
		t.Fatal("unauthorized request wrote a record")
	}

	w := post("Bearer s3cret-token", body)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var resp ChangesResponse
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Imported != 2 || resp.Rejected != 1 || len(resp.Results) != 3 {
		t.Fatalf("response %+v", resp)
	}
	want := []RowResult{{1, "TB-7001", "imported", ""}, {2, "TB-7002", "rejected", ""}, {3, "TB-7003", "imported", ""}}
	for i, r := range resp.Results {
		if r.Line != want[i].Line || r.Code != want[i].Code || r.Result != want[i].Result || (r.Result == "rejected") != (r.Reason != "") {
			t.Errorf("result %d = %+v, want %+v", i, r, want[i])
		}
	}
	// A status change pushed later: one event; the same push again: unchanged, no event.
	change := jsonRow("TB-7001", "approved", "2026-03-09T08:00:00+07:00") + "\n"
	for i, wantImported := range []int{1, 0} {
		w := post("Bearer s3cret-token", change)
		var resp ChangesResponse
		json.Unmarshal(w.Body.Bytes(), &resp)
		if resp.Imported != wantImported || resp.Unchanged != 1-wantImported || resp.StatusChanges != wantImported {
			t.Errorf("push %d: %+v", i, resp)
		}
	}
	if n := len(changes(t, rdb)); n != 1 {
		t.Errorf("%d change events, want 1", n)
	}
}

func TestChangesHandlerRefusals(t *testing.T) {
	s, rdb := newStore(t)
	tests := []struct {
		name, token, method, ctype string
		body                       []byte
		want                       int
	}{
		{"disabled", "", http.MethodPost, "", []byte("{}"), http.StatusNotFound},
		{"GET", "t", http.MethodGet, "", nil, http.StatusMethodNotAllowed},
		{"form", "t", http.MethodPost, "application/x-www-form-urlencoded", []byte("a=b"), http.StatusUnsupportedMediaType},
		{"too big", "t", http.MethodPost, "application/x-ndjson", bytes.Repeat([]byte(jsonRow("TB-8001", "received", "2026-03-01T08:00:00+07:00")+"\n"), MaxChangesBody/200), http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(tt.method, "/api/applications", bytes.NewReader(tt.body))
		req.Header.Set("Authorization", "Bearer "+tt.token)
		if tt.ctype != "" {
			req.Header.Set("Content-Type", tt.ctype)
		}
		w := httptest.NewRecorder()
		s.ChangesHandler(tt.token).ServeHTTP(w, req)
		if w.Code != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, w.Code, tt.want)
		}
	}
	if n, _ := rdb.Exists(context.Background(), appKey("TB8001")).Result(); n != 0 {
		t.Error("an oversized body was partly written")
	}
}

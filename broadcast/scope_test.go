package broadcast

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/socialaid-vn/gateway/staff"
)

// An officer of one commune acts only on that commune's broadcasts: creating for another
// commune or for everyone is 403, another commune's report and cancel are 404, and the list
// leaves it out. The list shows the newest first with who made each.
func TestOfficerActsOnlyOnItsCommunes(t *testing.T) {
	f := newFixture(t, fastConfig())
	f.svc.cfg.Communes = []string{"Vũ Phúc", "Trần Lãm"}
	f.svc.communes = map[string]string{"vu phuc": "Vũ Phúc", "tran lam": "Trần Lãm"}
	officer := &staff.Principal{Username: "lan", Role: staff.Officer, Communes: []string{"Vũ Phúc"}}
	admin := &staff.Principal{Username: "boss", Role: staff.Admin}
	h := f.svc.Handler()
	call := func(p *staff.Principal, method, path, body string) (int, map[string]any) {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req = req.WithContext(staff.WithPrincipal(req.Context(), p))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		var out map[string]any
		json.Unmarshal(w.Body.Bytes(), &out)
		return w.Code, out
	}
	body := func(communes string) string {
		return `{"text":{"vi":"Chi trả ngày 10/12"},"audience":{"communes":[` + communes + `],"channels":["telegram"]}}`
	}
	if code, out := call(officer, "POST", "/api/broadcasts", body(`"Trần Lãm"`)); code != 403 {
		t.Fatalf("officer of Vũ Phúc creating for Trần Lãm: %d %v", code, out)
	}
	if code, _ := call(officer, "POST", "/api/broadcasts", body(``)); code != 403 {
		t.Fatalf("officer creating for everyone: %d", code)
	}
	code, own := call(officer, "POST", "/api/broadcasts", body(`"Vu Phuc"`))
	if code != 202 {
		t.Fatalf("officer creating for its commune: %d %v", code, own)
	}
	code, other := call(admin, "POST", "/api/broadcasts", body(`"Trần Lãm"`))
	if code != 202 {
		t.Fatalf("admin: %d %v", code, other)
	}
	if code, _ := call(officer, "GET", "/api/broadcasts/"+other["id"].(string), ""); code != 404 {
		t.Fatalf("officer reading another commune's report: %d, want 404", code)
	}
	if code, _ := call(officer, "DELETE", "/api/broadcasts/"+other["id"].(string), ""); code != 404 {
		t.Fatalf("officer cancelling another commune's broadcast: %d, want 404", code)
	}
	if code, rep := call(officer, "GET", "/api/broadcasts/"+own["id"].(string), ""); code != 200 || rep["created_by"] != "lan" {
		t.Fatalf("officer's own report: %d %v", code, rep)
	}
	_, list := call(officer, "GET", "/api/broadcasts", "")
	if bs := list["broadcasts"].([]any); len(bs) != 1 || bs[0].(map[string]any)["id"] != own["id"] {
		t.Fatalf("officer's list = %v, want only its own", list)
	}
	all, _, err := f.svc.List(context.Background(), time.Time{}, 10, nil)
	if err != nil || len(all) != 2 || all[0].ID != other["id"] || all[1].ID != own["id"] {
		t.Fatalf("List = %v %v, want both, newest first", all, err)
	}
	viewer := &staff.Principal{Username: "v", Role: staff.Viewer}
	if code, _ := call(viewer, "POST", "/api/broadcasts", body(`"Vũ Phúc"`)); code != 403 {
		t.Fatalf("viewer creating: %d", code)
	}
	if code, _ := call(nil, "GET", "/api/broadcasts", ""); code != 401 {
		t.Fatalf("no principal: %d", code)
	}
}

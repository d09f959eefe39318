package console

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"

	"github.com/socialaid-vn/gateway/cases"
	"github.com/socialaid-vn/gateway/console/form"
	"github.com/socialaid-vn/gateway/staff"
)

type inboxData struct {
	F        form.CaseFilter
	Views    []string
	Rows     []cases.Summary
	Next     string // the next page's query, "" at the end
	First    string // the first page's query, when this is a later page
	Communes []string
	Kinds    []cases.Kind
	Statuses []cases.Status
	Live     string // where the rows are polled (the first page only)
	Me       string
}

// communesOf are the communes the person may filter by: theirs, or every commune.
func (c *Console) communesOf(p *staff.Principal) []string {
	if p.Everywhere() {
		return c.cfg.Communes
	}
	return p.Communes
}

// inbox reads the page of cases the inbox query asks for.
func (c *Console) inbox(w http.ResponseWriter, r *http.Request) (inboxData, bool) {
	cp, ok := c.casesPrincipal(w, r)
	if !ok {
		return inboxData{}, false
	}
	communes := c.communesOf(reqCtx(r).p)
	f := form.ParseCaseFilter(r, communes)
	pg, err := c.cases.List(r.Context(), cp, f.Filter(cp.ID))
	if err != nil && f.Cursor != "" { // a stale or edited cursor: the first page instead
		f.Cursor = ""
		pg, err = c.cases.List(r.Context(), cp, f.Filter(cp.ID))
	}
	if err != nil {
		c.caseError(w, r, err)
		return inboxData{}, false
	}
	d := inboxData{F: f, Views: form.Views, Rows: pg.Cases, Communes: communes, Kinds: cases.Kinds, Statuses: cases.Statuses, Me: cp.ID}
	if pg.Next != "" {
		d.Next = f.Query("", pg.Next)
	}
	if f.Cursor != "" {
		d.First = f.Query("", "")
	} else {
		d.Live = "/console/cases/live?" + f.Query("", "")
	}
	return d, true
}

// casesList is the inbox: Mine / Unassigned / All / Overdue, filters by commune, kind and
// status (the work waiting by default, nearest deadline first), 30 a page. console.js polls
// casesLive to show new cases and messages without reloading.
func (c *Console) casesList(w http.ResponseWriter, r *http.Request) {
	d, ok := c.inbox(w, r)
	if !ok {
		return
	}
	c.render(w, r, 0, "cases", view{Title: c.T(r, "inbox.title"), Nav: "cases", Data: d})
}

// casesLive is the inbox's rows as HTML for console.js: 204 when they are what the page shows
// (v, a hash of them), else {"v", "html"}.
func (c *Console) casesLive(w http.ResponseWriter, r *http.Request) {
	d, ok := c.inbox(w, r)
	if !ok {
		return
	}
	html, err := c.fragment(r, "cases", "case-rows", view{Data: d})
	if err != nil {
		c.caseError(w, r, err)
		return
	}
	c.live(w, r, map[string]string{"html": html})
}

// live writes parts of a page for console.js, or 204 when the query's v says they did not change.
func (c *Console) live(w http.ResponseWriter, r *http.Request, parts map[string]string) {
	raw, _ := json.Marshal(parts)
	sum := sha256.Sum256(raw)
	v := hex.EncodeToString(sum[:12])
	w.Header().Set("Cache-Control", "no-store")
	if r.URL.Query().Get("v") == v {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	parts["v"] = v
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(parts)
}

// fragment renders one named template of a page, as render fills the view.
func (c *Console) fragment(r *http.Request, page, name string, v view) (string, error) {
	v.Lang = c.lang(r)
	if rc := reqCtx(r); rc != nil {
		v.User, v.P, v.CSRF = rc.sess.Account, rc.p, rc.sess.CSRF
	}
	var buf bytes.Buffer
	if err := c.pages[page].ExecuteTemplate(&buf, name, v); err != nil {
		return "", err
	}
	return buf.String(), nil
}

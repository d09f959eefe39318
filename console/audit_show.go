package console

import (
	"net/http"

	"github.com/socialaid-vn/gateway/staff"
)

type auditData struct {
	Entries []staff.AuditEntry
	Next    string
}

// auditShow lists staff actions, newest first, 100 a page (admins only).
func (c *Console) auditShow(w http.ResponseWriter, r *http.Request) {
	before := r.URL.Query().Get("before")
	if before != "" && !validEntryID(before) {
		before = ""
	}
	entries, next, err := c.staff.AuditLog(r.Context(), before, 100)
	if err != nil {
		c.log.Error("console audit", "err", err)
		c.fail(w, r, http.StatusServiceUnavailable, "console.common.error")
		return
	}
	c.render(w, r, 0, "audit", view{Title: c.T(r, "audit.title"), Nav: "audit", Data: auditData{Entries: entries, Next: next}})
}

func validEntryID(id string) bool {
	if len(id) == 0 || len(id) > 41 {
		return false
	}
	dash := 0
	for _, r := range id {
		switch {
		case r == '-':
			dash++
		case r < '0' || r > '9':
			return false
		}
	}
	return dash == 1
}

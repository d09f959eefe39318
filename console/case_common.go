package console

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/socialaid-vn/gateway/cases"
	"github.com/socialaid-vn/gateway/staff"
)

// casesPrincipal is the person signed in as the cases service knows them (cases.ForStaff, the
// one mapping of roles to cases); ok is false, with the answer written, when cases are off.
func (c *Console) casesPrincipal(w http.ResponseWriter, r *http.Request) (cases.Principal, bool) {
	if c.cases == nil {
		c.fail(w, r, http.StatusNotFound, "console.common.not_found")
		return cases.Principal{}, false
	}
	p, err := cases.ForStaff(reqCtx(r).p)
	if err != nil {
		c.fail(w, r, http.StatusForbidden, "console.common.forbidden")
		return cases.Principal{}, false
	}
	return p, true
}

// caseError answers an error of the cases service: not found (or another commune's) 404,
// forbidden 403, anything else 503 and logged.
func (c *Console) caseError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, cases.ErrNotFound):
		c.fail(w, r, http.StatusNotFound, "console.common.not_found")
	case errors.Is(err, cases.ErrForbidden):
		c.fail(w, r, http.StatusForbidden, "console.common.forbidden")
	default:
		c.log.Error("console cases", "err", err)
		c.fail(w, r, http.StatusServiceUnavailable, "console.common.error")
	}
}

// who names the author of a timeline event, or an assignee, for people.
func (c *Console) who(lang, id string) string {
	switch id {
	case "":
		return "—"
	case "citizen":
		return c.cat.T(lang, "console.case.citizen")
	case "system":
		return c.cat.T(lang, "console.case.system")
	case "admin":
		return c.cat.T(lang, "console.case.machine")
	}
	return cases.StaffName(id)
}

// communeLabel names a commune with its kind, as people say it ("phường Vũ Phúc").
func (c *Console) communeLabel(lang, commune string) string {
	if commune == "" {
		return c.cat.T(lang, "console.case.commune_any")
	}
	key := "cases.chat.commune." + c.cfg.CommuneKinds[commune]
	if c.cfg.CommuneKinds[commune] == "" || !c.cat.Has(lang, key) {
		return commune
	}
	return c.cat.T(lang, key, "name", commune)
}

// assignee is someone a case may be given to.
type assignee struct {
	ID, Name string
}

// assignees are the people who may take a case of commune: the console's admins and the
// officers covering it (enabled accounts), and the staff on Telegram who see it.
func (c *Console) assignees(r *http.Request, commune string) []assignee {
	var out []assignee
	accts, err := c.staff.List(r.Context())
	if err != nil {
		c.log.Warn("console assignees", "err", err)
	}
	for _, a := range accts {
		if a.Disabled || !a.Principal().Can(staff.Cases) {
			continue
		}
		if p, err := cases.ForStaff(a.Principal()); err == nil && p.Sees(commune) {
			out = append(out, assignee{ID: p.ID, Name: a.Username})
		}
	}
	for _, st := range c.cases.Reachable(commune) {
		out = append(out, assignee{ID: st.ID, Name: cases.StaffName(st.ID)})
	}
	return out
}

// duration writes a median given in hours as people read it: minutes under an hour, hours
// under two days, then days ("—" when there is none).
func (c *Console) duration(lang string, h *float64) string {
	if h == nil {
		return "—"
	}
	v := *h
	one := func(x float64) string {
		s := strconv.FormatFloat(x, 'f', 1, 64)
		return strings.Replace(strings.TrimSuffix(s, ".0"), ".", ",", 1)
	}
	switch {
	case v < 1.0/60:
		return c.cat.T(lang, "console.dash.under_minute")
	case v < 1:
		return c.cat.T(lang, "console.dash.minutes", "n", strconv.Itoa(int(v*60+0.5)))
	case v < 48:
		return c.cat.T(lang, "console.dash.hours_n", "n", one(v))
	}
	return c.cat.T(lang, "console.dash.days", "n", one(v/24))
}

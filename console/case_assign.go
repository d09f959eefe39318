package console

import (
	"net/http"

	"github.com/socialaid-vn/gateway/console/form"
)

// caseAssign gives the case to the person signed in (to=me) or to someone the page offers:
// an admin or an officer of the case's commune, or a staff member on Telegram who sees it.
func (c *Console) caseAssign(w http.ResponseWriter, r *http.Request) {
	cp, cs, ok := c.caseFor(w, r)
	if !ok {
		return
	}
	f := form.ParseCaseAssign(r)
	if f.To == "me" {
		f.To = cp.ID
	}
	offered := []string{cp.ID}
	for _, a := range c.caseData(r, cp, cs).Assignees {
		offered = append(offered, a.ID)
	}
	tr := func(k string, a ...string) string { return c.T(r, k, a...) }
	if errs := f.Validate(offered, tr); errs != nil {
		d := c.caseData(r, cp, cs)
		d.Errors = errs
		c.casePage(w, r, http.StatusBadRequest, d)
		return
	}
	_, err := c.cases.Assign(r.Context(), cp, cs.Code, f.To)
	if c.caseActionFailed(w, r, cp, cs, "to", "", err) {
		return
	}
	if f.To == cp.ID {
		c.flash(w, c.T(r, "case.taken"))
	} else {
		c.flash(w, c.T(r, "case.assigned", "who", c.who(c.lang(r), f.To)))
	}
	http.Redirect(w, r, "/console/cases/"+cs.Code, http.StatusSeeOther)
}

package console

import (
	"net/http"

	"github.com/socialaid-vn/gateway/console/form"
)

// caseClose closes the case; a resolution, when written, is sent to the citizen as its outcome.
func (c *Console) caseClose(w http.ResponseWriter, r *http.Request) {
	cp, cs, ok := c.caseFor(w, r)
	if !ok {
		return
	}
	f := form.ParseCaseText(r)
	tr := func(k string, a ...string) string { return c.T(r, k, a...) }
	if errs := f.Validate(true, tr); errs != nil {
		d := c.caseData(r, cp, cs)
		d.Errors, d.Resolution = form.Errors{"close": errs["text"]}, f.Text
		c.casePage(w, r, http.StatusBadRequest, d)
		return
	}
	ev, err := c.cases.Close(r.Context(), cp, cs.Code, f.Text)
	if c.caseActionFailed(w, r, cp, cs, "close", f.Text, err) {
		return
	}
	msg := c.T(r, "case.closed")
	if ev.Delivery != nil {
		msg = c.T(r, "case.closed_sent", "state", c.delivery(c.lang(r), ev.Delivery))
	}
	c.flash(w, msg)
	http.Redirect(w, r, "/console/cases/"+cs.Code, http.StatusSeeOther)
}

// caseReopen opens a closed case again.
func (c *Console) caseReopen(w http.ResponseWriter, r *http.Request) {
	cp, cs, ok := c.caseFor(w, r)
	if !ok {
		return
	}
	_, err := c.cases.Reopen(r.Context(), cp, cs.Code)
	if c.caseActionFailed(w, r, cp, cs, "", "", err) {
		return
	}
	c.flash(w, c.T(r, "case.reopened"))
	http.Redirect(w, r, "/console/cases/"+cs.Code, http.StatusSeeOther)
}

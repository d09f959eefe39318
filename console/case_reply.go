package console

import (
	"errors"
	"net/http"

	"github.com/socialaid-vn/gateway/cases"
	"github.com/socialaid-vn/gateway/console/form"
)

// caseReply answers the citizen on the case's channel (a canned reply picked without
// JavaScript is sent as it is). The page comes back with the delivery as it stands; console.js
// then follows it to sent, undeliverable or failed.
func (c *Console) caseReply(w http.ResponseWriter, r *http.Request) {
	cp, cs, ok := c.caseFor(w, r)
	if !ok {
		return
	}
	f := form.ParseCaseText(r)
	if f.Text == "" {
		if cr, ok := c.canned.Get(f.Canned); ok {
			f.Text = cr.Text(cs.Lang, cs.Code, c.communeLabel(cs.Lang, cs.Commune))
		}
	}
	tr := func(k string, a ...string) string { return c.T(r, k, a...) }
	if errs := f.Validate(false, tr); errs != nil {
		d := c.caseData(r, cp, cs)
		d.Errors, d.Reply = form.Errors{"reply": errs["text"]}, f.Text
		c.casePage(w, r, http.StatusBadRequest, d)
		return
	}
	ev, err := c.cases.Reply(r.Context(), cp, cs.Code, f.Text)
	if c.caseActionFailed(w, r, cp, cs, "reply", f.Text, err) {
		return
	}
	c.flash(w, c.T(r, "case.replied", "state", c.delivery(c.lang(r), ev.Delivery)))
	http.Redirect(w, r, "/console/cases/"+cs.Code+"#timeline", http.StatusSeeOther)
}

// caseActionFailed answers a refused action: a closed case (409) says so on the page; an
// invalid text shows the form again; other errors as caseError. It reports whether err was one.
func (c *Console) caseActionFailed(w http.ResponseWriter, r *http.Request, cp cases.Principal, cs *cases.Case, field, text string, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, cases.ErrConflict):
		d := c.caseData(r, cp, cs)
		d.Errors = form.Errors{"": c.T(r, "case.err.conflict")}
		if cs.Status == cases.Closed {
			d.Errors[""] = c.T(r, "case.err.closed")
		}
		c.casePage(w, r, http.StatusConflict, d)
	case errors.Is(err, cases.ErrInvalid):
		d := c.caseData(r, cp, cs)
		d.Errors = form.Errors{field: c.T(r, "case.err.invalid")}
		switch field {
		case "reply":
			d.Reply = text
		case "note":
			d.Note = text
		case "close":
			d.Resolution = text
		}
		c.casePage(w, r, http.StatusBadRequest, d)
	default:
		c.caseError(w, r, err)
	}
	return true
}

// delivery says where a message to the citizen stands.
func (c *Console) delivery(lang string, d *cases.Delivery) string {
	if d == nil {
		return ""
	}
	s := c.cat.T(lang, "console.case.delivery."+d.State)
	if d.Reason != "" && d.State != cases.DeliverySent {
		s += ": " + c.reason(lang, d.Reason)
	}
	return s
}

package console

import (
	"net/http"

	"github.com/socialaid-vn/gateway/console/form"
)

// caseNote adds an internal note, never shown to the citizen (also on a closed case).
func (c *Console) caseNote(w http.ResponseWriter, r *http.Request) {
	cp, cs, ok := c.caseFor(w, r)
	if !ok {
		return
	}
	f := form.ParseCaseText(r)
	tr := func(k string, a ...string) string { return c.T(r, k, a...) }
	if errs := f.Validate(false, tr); errs != nil {
		d := c.caseData(r, cp, cs)
		d.Errors, d.Note = form.Errors{"note": errs["text"]}, f.Text
		c.casePage(w, r, http.StatusBadRequest, d)
		return
	}
	_, err := c.cases.Note(r.Context(), cp, cs.Code, f.Text)
	if c.caseActionFailed(w, r, cp, cs, "note", f.Text, err) {
		return
	}
	c.flash(w, c.T(r, "case.noted"))
	http.Redirect(w, r, "/console/cases/"+cs.Code+"#timeline", http.StatusSeeOther)
}

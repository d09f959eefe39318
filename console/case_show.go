package console

import (
	"net/http"

	"github.com/socialaid-vn/gateway/cases"
	"github.com/socialaid-vn/gateway/console/form"
)

// cannedOption is a canned reply as the reply box offers it: its title in the console's
// language, its text in the case's language, filled for this case.
type cannedOption struct {
	ID, Label, Text string
}

type caseData struct {
	C         *cases.Case
	Canned    []cannedOption
	Assignees []assignee
	Me        string
	Errors    form.Errors
	// What was typed, shown again with the errors.
	Reply, Note, Resolution string
	Live                    string
}

// caseFor loads the case of the URL for the person; another commune's case is 404, as an
// unknown code.
func (c *Console) caseFor(w http.ResponseWriter, r *http.Request) (cases.Principal, *cases.Case, bool) {
	cp, ok := c.casesPrincipal(w, r)
	if !ok {
		return cp, nil, false
	}
	cs, err := c.cases.Get(r.Context(), cp, r.PathValue("code"))
	if err != nil {
		c.caseError(w, r, err)
		return cp, nil, false
	}
	return cp, cs, true
}

func (c *Console) caseData(r *http.Request, cp cases.Principal, cs *cases.Case) caseData {
	d := caseData{C: cs, Me: cp.ID, Live: "/console/cases/" + cs.Code + "/live"}
	lang := c.lang(r)
	for _, cr := range c.canned.For(cs.Kind) {
		d.Canned = append(d.Canned, cannedOption{ID: cr.ID, Label: cr.Label(lang), Text: cr.Text(cs.Lang, cs.Code, c.communeLabel(cs.Lang, cs.Commune))})
	}
	for _, a := range c.assignees(r, cs.Commune) {
		if a.ID != cp.ID {
			d.Assignees = append(d.Assignees, a)
		}
	}
	return d
}

// caseShow is a case's page: what the citizen said and everything since (messages, replies
// with their delivery, notes, assignments, status changes, reminders), the reply box with the
// canned replies, internal notes, assign, close and reopen. console.js polls caseLive so that
// new messages and delivery results appear without reloading. Opening it is audited.
func (c *Console) caseShow(w http.ResponseWriter, r *http.Request) {
	cp, cs, ok := c.caseFor(w, r)
	if !ok {
		return
	}
	c.audit(r, reqCtx(r).p.Username, "case_view", cs.Code, "")
	c.casePage(w, r, 0, c.caseData(r, cp, cs))
}

func (c *Console) casePage(w http.ResponseWriter, r *http.Request, status int, d caseData) {
	c.render(w, r, status, "case", view{Title: c.T(r, "case.title", "code", d.C.Code), Nav: "cases", Data: d})
}

// caseLive is the parts of a case's page that change, as HTML for console.js: 204 when
// unchanged.
func (c *Console) caseLive(w http.ResponseWriter, r *http.Request) {
	cp, cs, ok := c.caseFor(w, r)
	if !ok {
		return
	}
	v := view{Data: caseData{C: cs, Me: cp.ID}} // the parts that change need no canned replies or assignees
	parts := map[string]string{}
	for _, name := range []string{"timeline", "facts"} {
		html, err := c.fragment(r, "case", "case-"+name, v)
		if err != nil {
			c.caseError(w, r, err)
			return
		}
		parts[name] = html
	}
	c.live(w, r, parts)
}

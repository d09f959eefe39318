package form

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/socialaid-vn/gateway/cases"
)

// The inbox's views.
const (
	ViewMine       = "mine"
	ViewUnassigned = "unassigned"
	ViewAll        = "all"
	ViewOverdue    = "overdue"
)

// Views lists the inbox's views in the order of its tabs.
var Views = []string{ViewMine, ViewUnassigned, ViewAll, ViewOverdue}

// The inbox's status choices besides the case statuses: the work waiting (the default) and
// everything.
const (
	StatusWaiting = ""
	StatusAny     = "any"
)

// CaseFilter is the inbox's filters (a GET form): a view, a commune, a kind, a status and the
// cursor of the page. Values that are not known are dropped to their default, so a link edited
// by hand shows the inbox rather than an error.
type CaseFilter struct {
	View    string
	Commune string
	Kind    string
	Status  string
	Cursor  string
}

// ParseCaseFilter reads the inbox's query; communes are the ones the person may choose.
func ParseCaseFilter(r *http.Request, communes []string) CaseFilter {
	q := r.URL.Query()
	f := CaseFilter{View: q.Get("view"), Commune: q.Get("commune"), Kind: q.Get("kind"), Status: q.Get("status"), Cursor: q.Get("cursor")}
	if !slices.Contains(Views, f.View) {
		f.View = ViewAll
	}
	if !slices.Contains(communes, f.Commune) {
		f.Commune = ""
	}
	if !cases.Kind(f.Kind).Valid() {
		f.Kind = ""
	}
	if f.Status != StatusAny && !cases.Status(f.Status).Valid() {
		f.Status = StatusWaiting
	}
	if len(f.Cursor) > 200 {
		f.Cursor = ""
	}
	return f
}

// Filter is the cases service's filter for the person whose principal ID is me.
func (f CaseFilter) Filter(me string) cases.Filter {
	out := cases.Filter{Commune: f.Commune, Kind: cases.Kind(f.Kind), Cursor: f.Cursor, Limit: 30}
	switch f.Status {
	case StatusWaiting:
		out.NotClosed = true
	case StatusAny:
	default:
		out.Status = cases.Status(f.Status)
	}
	switch f.View {
	case ViewMine:
		out.Assignee = me
	case ViewUnassigned:
		out.Unassigned = true
	case ViewOverdue:
		out.Overdue, out.NotClosed, out.Status = true, false, ""
	}
	return out
}

// Query is the filter as a query string, with view replaced when not empty, without the cursor
// unless cursor is given.
func (f CaseFilter) Query(view, cursor string) string {
	v := url.Values{}
	if view == "" {
		view = f.View
	}
	v.Set("view", view)
	for k, val := range map[string]string{"commune": f.Commune, "kind": f.Kind, "status": f.Status, "cursor": cursor} {
		if val != "" {
			v.Set(k, val)
		}
	}
	return v.Encode()
}

// CaseText is a reply, a note or a closing resolution typed on a case's page; Canned is the id
// of a canned reply picked instead of typing (without JavaScript, the text then stays empty).
type CaseText struct {
	Text   string
	Canned string
}

// ParseCaseText reads the form: text (kept as typed, with its line breaks) and canned.
func ParseCaseText(r *http.Request) CaseText {
	t := r.PostFormValue("text")
	if !utf8.ValidString(t) {
		t = strings.ToValidUTF8(t, "")
	}
	return CaseText{Text: strings.TrimSpace(t), Canned: field(r, "canned")}
}

// Validate checks the text: required unless optional (a resolution), at most cases.MaxText
// characters. The result is under "text".
func (f *CaseText) Validate(optional bool, t Translate) Errors {
	switch n := utf8.RuneCountInString(f.Text); {
	case n == 0 && !optional:
		return Errors{"text": t("case.err.text")}
	case n > cases.MaxText:
		return Errors{"text": t("case.err.too_long", "n", itoa(n), "max", itoa(cases.MaxText))}
	}
	return nil
}

// CaseAssign gives a case to someone offered on its page (a principal ID).
type CaseAssign struct{ To string }

// ParseCaseAssign reads the form.
func ParseCaseAssign(r *http.Request) CaseAssign { return CaseAssign{To: field(r, "to")} }

// Validate checks that To is one of offered.
func (f CaseAssign) Validate(offered []string, t Translate) Errors {
	if !slices.Contains(offered, f.To) {
		return Errors{"to": t("case.err.assignee")}
	}
	return nil
}

func itoa(n int) string { return strconv.Itoa(n) }

package cases

import (
	"net/http"
	"strings"

	"github.com/socialaid-vn/gateway/staff"
)

// The console's people on cases. A staff account (package staff) acts on cases as one
// Principal, mapped here and nowhere else, so that the console's pages and /api/cases for a
// console session apply the same rule:
//
//   - an admin: every commune, every action, as "console:<username>";
//   - an officer: the communes of the account, every action, as "console:<username>";
//   - a viewer: no cases at all (figures only): ErrForbidden;
//   - the holder of ADMIN_TOKEN (a machine): Admin.

// ConsolePrefix starts the principal ID of a console account ("console:lan.nguyen").
const ConsolePrefix = "console:"

// ForStaff returns the cases principal of a staff principal, or ErrForbidden when its role does
// not handle cases (viewers), or ErrUnauthorized when there is none.
func ForStaff(p *staff.Principal) (Principal, error) {
	switch {
	case p == nil:
		return Principal{}, ErrUnauthorized
	case !p.Can(staff.Cases):
		return Principal{}, ErrForbidden
	case p.Machine:
		return Admin, nil
	}
	out := Principal{ID: ConsolePrefix + p.Username}
	if !p.Everywhere() {
		out.Communes = append([]string{}, p.Communes...) // never nil: an officer without communes sees nothing
	}
	return out, nil
}

// StaffAuthorizer authorizes the requests that staff.Store.API authenticated (a console
// session, or ADMIN_TOKEN), as ForStaff maps their principal.
type StaffAuthorizer struct{}

// Authorize implements Authorizer.
func (StaffAuthorizer) Authorize(r *http.Request) (Principal, error) {
	return ForStaff(staff.FromContext(r.Context()))
}

// StaffName is how a principal ID reads for people: the console username, "Telegram 123456",
// or the ID itself.
func StaffName(id string) string {
	if u, ok := strings.CutPrefix(id, ConsolePrefix); ok {
		return u
	}
	if u, ok := strings.CutPrefix(id, "telegram:"); ok {
		return "Telegram " + u
	}
	return id
}

// FiguresFor is the read-only principal counting cases for a staff principal's figures (any
// role that sees figures, viewers too): restricted to scope when given, else to the account's
// communes unless it covers every commune. It may only count and read, never act.
func FiguresFor(p *staff.Principal, scope []string) Principal {
	out := Principal{ID: "figures", ReadOnly: true}
	switch {
	case scope != nil:
		out.Communes = append([]string{}, scope...)
	case p == nil || !p.Everywhere():
		out.Communes = []string{}
		if p != nil {
			out.Communes = append(out.Communes, p.Communes...)
		}
	}
	return out
}

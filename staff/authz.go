// Package staff holds the department's staff: accounts with roles and communes, password
// checks with lockout, browser sessions, the audit stream of staff actions, and the one
// authorization rule every staff surface consults (the console's pages, the /api/... handlers,
// the cases inbox): a Principal and what it may do.
//
// Roles: an admin does everything, in every commune, and manages accounts; an officer sends
// announcements, imports records and handles cases, only for the communes of the account; a
// viewer sees figures only (of its communes, or of all when it has none). A machine presenting
// ADMIN_TOKEN to /api/... acts as an admin.
//
// Redis layout: every key starts with "staff:{staff}:" (one hash tag, so a Redis Cluster keeps
// accounts, sessions and the audit stream in one slot). Passwords are stored only as argon2id
// hashes; sessions only under the SHA-256 of their cookie.
package staff

import (
	"context"
	"errors"
	"slices"

	"github.com/socialaid-vn/gateway/i18n"
)

// Role is what a staff account may do.
type Role string

// The roles.
const (
	Admin   Role = "admin"
	Officer Role = "officer"
	Viewer  Role = "viewer"
)

// Roles lists the roles, most powerful first.
var Roles = []Role{Admin, Officer, Viewer}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// Action is something a principal may be allowed to do.
type Action string

// The actions staff surfaces check.
const (
	Broadcast Action = "broadcast" // compose, send, cancel announcements
	Records   Action = "records"   // import applications and schedules
	Cases     Action = "cases"     // see and handle citizens' cases
	Figures   Action = "figures"   // see the supervision figures and reports
	Manage    Action = "manage"    // staff accounts and the audit log
)

var allowed = map[Role][]Action{
	Admin:   {Broadcast, Records, Cases, Figures, Manage},
	Officer: {Broadcast, Records, Cases, Figures},
	Viewer:  {Figures},
}

// Principal is who is acting: a staff member signed in to the console, or a machine with
// ADMIN_TOKEN.
type Principal struct {
	Username string
	Role     Role
	// Communes are the canonical names of the communes the account covers. Empty means every
	// commune for an admin or a viewer; an officer always has at least one.
	Communes []string
	// Machine is set for a request authenticated by ADMIN_TOKEN.
	Machine bool
}

// ErrForbidden is returned (wrapped) when a principal may not do something.
var ErrForbidden = errors.New("forbidden")

// Can reports whether p may do a.
func (p *Principal) Can(a Action) bool {
	return p != nil && slices.Contains(allowed[p.Role], a)
}

// Everywhere reports whether p covers every commune.
func (p *Principal) Everywhere() bool {
	return p != nil && (p.Role == Admin || (p.Role == Viewer && len(p.Communes) == 0))
}

// Covers reports whether commune is one of p's communes (names compare without case or
// diacritics).
func (p *Principal) Covers(commune string) bool {
	if p == nil {
		return false
	}
	if p.Everywhere() {
		return true
	}
	k := i18n.Key(commune)
	return k != "" && slices.ContainsFunc(p.Communes, func(c string) bool { return i18n.Key(c) == k })
}

// CoversAll reports whether p may act on something concerning communes. An empty list means
// "every commune" (a broadcast to everyone), which only a principal covering every commune may.
func (p *Principal) CoversAll(communes []string) bool {
	if p.Everywhere() {
		return true
	}
	if len(communes) == 0 {
		return false
	}
	for _, c := range communes {
		if !p.Covers(c) {
			return false
		}
	}
	return true
}

// Allow checks that p may do a on something concerning communes; the error wraps ErrForbidden
// and says why.
func (p *Principal) Allow(a Action, communes []string) error {
	if !p.Can(a) {
		return &forbidden{"your role does not allow this"}
	}
	if !p.CoversAll(communes) {
		return &forbidden{"this concerns communes outside your account"}
	}
	return nil
}

type forbidden struct{ why string }

func (f *forbidden) Error() string { return "forbidden: " + f.why }
func (f *forbidden) Unwrap() error { return ErrForbidden }

type ctxKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the principal a request was authenticated as, or nil.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(ctxKey{}).(*Principal)
	return p
}

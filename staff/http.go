package staff

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"net"
	"net/http"
	"time"
)

// CookieName is the console session cookie. Its path is "/" because the same session
// authenticates the console's calls to /api/....
const CookieName = "gw_staff"

// SetCookie gives the browser the session's cookie: HttpOnly, SameSite=Lax, Secure when the
// gateway is served over https; it lasts as long as the session may (SessionMax).
func (s *Store) SetCookie(w http.ResponseWriter, sess *Session, secure bool) {
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: sess.Token, Path: "/", MaxAge: int(s.opts.SessionMax / time.Second),
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode,
	})
}

// ClearCookie removes the session cookie.
func ClearCookie(w http.ResponseWriter, secure bool) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
}

// FromRequest returns the live session of the request's cookie (ErrNoSession when none).
func (s *Store) FromRequest(r *http.Request) (*Session, error) {
	ck, err := r.Cookie(CookieName)
	if err != nil {
		return nil, ErrNoSession
	}
	sess, err := s.Session(r.Context(), ck.Value)
	if err == nil {
		sess.Token = ck.Value
	}
	return sess, err
}

// ClientAddr is the address a request came from (the peer's IP), for lockouts and the audit.
func ClientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

type addrKey struct{}

// WithClientAddr returns ctx carrying the client address of the request a staff member acts
// through, for audit entries written further down (the cases service's).
func WithClientAddr(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, addrKey{}, addr)
}

// ClientAddrFrom returns the address WithClientAddr put in ctx, or "".
func ClientAddrFrom(ctx context.Context) string {
	a, _ := ctx.Value(addrKey{}).(string)
	return a
}

// API authenticates requests to the staff API (/api/...) and puts the Principal in the request's
// context (FromContext), for the handlers to check with Principal.Allow, with the client address
// (ClientAddrFrom) for the audit:
//
//   - "Authorization: Bearer <adminToken>" (compared in constant time) acts as an admin machine;
//     an empty adminToken accepts no bearer token at all.
//   - otherwise a console session cookie acts as its account; its state-changing requests must
//     come from the gateway's own pages (http.CrossOriginProtection: another site's form or
//     script gets 403), and an account that must change its password may only read.
//
// Anything else is 401 with a JSON error.
func (s *Store) API(adminToken string, next http.Handler) http.Handler {
	want := sha256.Sum256([]byte("Bearer " + adminToken))
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "cross-origin request refused"})
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if auth := r.Header.Get("Authorization"); auth != "" {
			got := sha256.Sum256([]byte(auth))
			if adminToken == "" || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="gateway"`)
				writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong bearer token"})
				return
			}
			p := &Principal{Username: "admin-token", Role: Admin, Machine: true}
			next.ServeHTTP(w, r.WithContext(WithClientAddr(WithPrincipal(r.Context(), p), ClientAddr(r))))
			return
		}
		sess, err := s.FromRequest(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gateway"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "sign in to the console, or send Authorization: Bearer ADMIN_TOKEN"})
			return
		}
		if sess.Account.MustChange && r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "change your password in the console first"})
			return
		}
		ctx := WithClientAddr(WithPrincipal(r.Context(), sess.Account.Principal()), ClientAddr(r))
		cop.Handler(next).ServeHTTP(w, r.WithContext(ctx))
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

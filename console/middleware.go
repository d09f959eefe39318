package console

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"

	"github.com/socialaid-vn/gateway/staff"
)

// request is what the session middleware found, kept in the request's context.
type request struct {
	sess *staff.Session
	p    *staff.Principal
}

type ctxKey struct{}

func reqCtx(r *http.Request) *request {
	rc, _ := r.Context().Value(ctxKey{}).(*request)
	return rc
}

// signedIn wraps a page that needs a session and the action a (empty: any signed-in account).
// Without a session a GET goes to the login page (coming back afterwards) and anything else is
// 401; an account that must change its password goes to that page first; a role or commune
// that does not allow a is 403. Every POST must carry the session's form token ("csrf").
func (c *Console) signedIn(a staff.Action, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, err := c.staff.FromRequest(r)
		if errors.Is(err, staff.ErrNoSession) {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/console/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			c.fail(w, r, http.StatusUnauthorized, "console.login.expired")
			return
		}
		if err != nil {
			c.log.Error("console session", "err", err)
			c.fail(w, r, http.StatusServiceUnavailable, "console.common.error")
			return
		}
		rc := &request{sess: sess, p: sess.Account.Principal()}
		ctx := staff.WithClientAddr(staff.WithPrincipal(r.Context(), rc.p), staff.ClientAddr(r))
		r = r.WithContext(context.WithValue(ctx, ctxKey{}, rc))
		if r.Method == http.MethodPost {
			tok := r.Header.Get("X-CSRF-Token")
			if tok == "" && isMultipart(r) {
				tok = r.URL.Query().Get("csrf") // uploads are streamed: the body is read later
			} else if tok == "" {
				r.Body = http.MaxBytesReader(w, r.Body, maxForm)
				tok = r.PostFormValue("csrf")
			}
			if subtle.ConstantTimeCompare([]byte(tok), []byte(sess.CSRF)) != 1 || tok == "" {
				c.fail(w, r, http.StatusForbidden, "console.common.csrf")
				return
			}
		}
		if sess.Account.MustChange && r.URL.Path != "/console/password" && r.URL.Path != "/console/logout" {
			http.Redirect(w, r, "/console/password", http.StatusSeeOther)
			return
		}
		if a != "" && !rc.p.Can(a) {
			c.fail(w, r, http.StatusForbidden, "console.common.forbidden")
			return
		}
		next(w, r)
	})
}

// maxForm bounds an ordinary form post (an announcement of 2 × 4,000 characters fits easily).
const maxForm = 256 << 10

func isMultipart(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	return len(ct) >= 19 && ct[:19] == "multipart/form-data"
}

func encodeFlash(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func decodeFlash(s string) string {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) > 600 {
		return ""
	}
	return string(b)
}

// safeNext keeps a post-login redirect on the console.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.IsAbs() || u.Host != "" || len(next) < 9 || next[:9] != "/console/" {
		return "/console/"
	}
	return next
}

package console

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/socialaid-vn/gateway/console/form"
	"github.com/socialaid-vn/gateway/staff"
)

// loginCheck signs a person in: right username and password give a session cookie and the page
// they wanted; a wrong one the same answer whether the account exists or not (401); repeated
// failures lock the username and the address for a while (429). Each attempt is audited.
func (c *Console) loginCheck(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	f := form.ParseLogin(r)
	data := loginData{Username: f.Username, Next: safeNext(f.Next)}
	tr := func(k string, a ...string) string { return c.T(r, k, a...) }
	if errs := f.Validate(tr); errs != nil {
		c.render(w, r, http.StatusBadRequest, "login", view{Title: c.T(r, "login.title"), Error: errs[""], Data: data})
		return
	}
	acct, err := c.staff.Authenticate(r.Context(), f.Username, f.Password, staff.ClientAddr(r))
	var locked *staff.LockedError
	switch {
	case errors.As(err, &locked):
		mins := int(math.Ceil(time.Until(locked.Until).Minutes()))
		c.audit(r, f.Username, "login_locked", "", "")
		w.Header().Set("Retry-After", strconv.Itoa(max(mins, 1)*60))
		c.render(w, r, http.StatusTooManyRequests, "login", view{Title: c.T(r, "login.title"),
			Error: c.T(r, "login.locked", "minutes", strconv.Itoa(max(mins, 1))), Data: data})
		return
	case errors.Is(err, staff.ErrBadLogin):
		c.audit(r, "-", "login_failed", f.Username, "")
		c.render(w, r, http.StatusUnauthorized, "login", view{Title: c.T(r, "login.title"), Error: c.T(r, "login.bad"), Data: data})
		return
	case err != nil:
		c.log.Error("console login", "err", err)
		c.fail(w, r, http.StatusServiceUnavailable, "console.common.error")
		return
	}
	sess, err := c.staff.StartSession(r.Context(), acct)
	if err != nil {
		c.log.Error("console session start", "err", err)
		c.fail(w, r, http.StatusServiceUnavailable, "console.common.error")
		return
	}
	c.staff.SetCookie(w, sess, c.cfg.Secure)
	c.audit(r, acct.Username, "login", "", "")
	next := data.Next
	if acct.MustChange {
		next = "/console/password"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

package console

import (
	"errors"
	"net/http"

	"github.com/socialaid-vn/gateway/console/form"
	"github.com/socialaid-vn/gateway/staff"
)

type passwordData struct {
	Must   bool
	Errors form.Errors
}

// passwordShow serves the change-password form (forced after a temporary password).
func (c *Console) passwordShow(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, 0, "password", view{Title: c.T(r, "password.title"), Data: passwordData{Must: reqCtx(r).sess.Account.MustChange}})
}

// passwordSave checks the current password, sets the new one (ending every other session) and
// signs the person in again.
func (c *Console) passwordSave(w http.ResponseWriter, r *http.Request) {
	rc := reqCtx(r)
	acct := rc.sess.Account
	f := form.ParsePassword(r)
	tr := func(k string, a ...string) string { return c.T(r, k, a...) }
	errs := f.Validate(acct.Username, tr)
	if _, err := c.staff.Authenticate(r.Context(), acct.Username, f.Current, staff.ClientAddr(r)); err != nil {
		if errs == nil {
			errs = form.Errors{}
		}
		errs["current"] = c.T(r, "password.wrong")
		var locked *staff.LockedError
		if errors.As(err, &locked) {
			errs["current"] = c.T(r, "login.locked", "minutes", "15")
		}
	}
	if errs != nil {
		c.render(w, r, http.StatusBadRequest, "password", view{Title: c.T(r, "password.title"), Data: passwordData{Must: acct.MustChange, Errors: errs}})
		return
	}
	if err := c.staff.SetPassword(r.Context(), acct.Username, f.New, false); err != nil {
		c.log.Error("console password", "err", err)
		c.fail(w, r, http.StatusServiceUnavailable, "console.common.error")
		return
	}
	c.audit(r, acct.Username, "password_change", acct.Username, "")
	acct.MustChange = false
	sess, err := c.staff.StartSession(r.Context(), acct)
	if err != nil {
		c.fail(w, r, http.StatusServiceUnavailable, "console.common.error")
		return
	}
	c.staff.SetCookie(w, sess, c.cfg.Secure)
	c.flash(w, c.T(r, "password.done"))
	http.Redirect(w, r, "/console/", http.StatusSeeOther)
}

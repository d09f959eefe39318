package console

import (
	"errors"
	"net/http"

	"github.com/socialaid-vn/gateway/console/form"
	"github.com/socialaid-vn/gateway/staff"
)

type staffData struct {
	Accounts []staff.Account
	Form     form.Account
	Errors   form.Errors
	Communes []string
	Roles    []staff.Role
	Shown    string // a temporary password just made, shown once
}

func (c *Console) staffPage(w http.ResponseWriter, r *http.Request, status int, d staffData) {
	accts, err := c.staff.List(r.Context())
	if err != nil {
		c.log.Error("console staff list", "err", err)
		c.fail(w, r, http.StatusServiceUnavailable, "console.common.error")
		return
	}
	d.Accounts, d.Communes, d.Roles = accts, c.cfg.Communes, staff.Roles
	if d.Form.Role == "" {
		d.Form.Role = staff.Officer
	}
	c.render(w, r, status, "staff", view{Title: c.T(r, "staff.title"), Nav: "staff", Flash: d.Shown, Data: d})
}

// staffList lists the accounts with the form to add one (admins only).
func (c *Console) staffList(w http.ResponseWriter, r *http.Request) {
	c.staffPage(w, r, 0, staffData{})
}

// staffCreate adds an account with a temporary password, shown once, that the person must
// change at the first sign-in.
func (c *Console) staffCreate(w http.ResponseWriter, r *http.Request) {
	f := form.ParseAccount(r)
	tr := func(k string, a ...string) string { return c.T(r, k, a...) }
	if errs := f.Validate(tr); errs != nil {
		c.staffPage(w, r, http.StatusBadRequest, staffData{Form: f, Errors: errs})
		return
	}
	pw := staff.GeneratePassword()
	_, err := c.staff.Add(r.Context(), f.Username, f.Role, f.Communes, pw, true)
	switch {
	case errors.Is(err, staff.ErrExists):
		c.staffPage(w, r, http.StatusBadRequest, staffData{Form: f, Errors: form.Errors{"username": c.T(r, "staff.err_exists")}})
		return
	case errors.Is(err, staff.ErrInvalid):
		c.staffPage(w, r, http.StatusBadRequest, staffData{Form: f, Errors: form.Errors{"": err.Error()}})
		return
	case err != nil:
		c.log.Error("console staff add", "err", err)
		c.fail(w, r, http.StatusServiceUnavailable, "console.common.error")
		return
	}
	c.audit(r, reqCtx(r).p.Username, "staff_add", f.Username, "role="+string(f.Role))
	c.staffPage(w, r, 0, staffData{Shown: c.T(r, "staff.add_done", "user", f.Username, "password", pw)})
}

// staffChange disables, enables, unlocks or issues a temporary password to an account.
func (c *Console) staffChange(w http.ResponseWriter, r *http.Request) {
	me := reqCtx(r).p.Username
	user, op := r.PathValue("user"), r.PathValue("op")
	var err error
	shown := ""
	switch op {
	case "disable":
		if user == me {
			c.staffPage(w, r, http.StatusBadRequest, staffData{Errors: form.Errors{"": c.T(r, "staff.self")}})
			return
		}
		err = c.staff.SetDisabled(r.Context(), user, true)
	case "enable":
		err = c.staff.SetDisabled(r.Context(), user, false)
	case "unlock":
		err = c.staff.Unlock(r.Context(), user)
	case "reset":
		pw := staff.GeneratePassword()
		err = c.staff.SetPassword(r.Context(), user, pw, true)
		shown = c.T(r, "staff.reset_done", "user", user, "password", pw)
	default:
		c.fail(w, r, http.StatusNotFound, "console.common.not_found")
		return
	}
	if errors.Is(err, staff.ErrNotFound) {
		c.fail(w, r, http.StatusNotFound, "console.common.not_found")
		return
	}
	if err != nil {
		c.log.Error("console staff change", "op", op, "err", err)
		c.fail(w, r, http.StatusServiceUnavailable, "console.common.error")
		return
	}
	c.audit(r, me, "staff_"+op, user, "")
	c.staffPage(w, r, 0, staffData{Shown: shown})
}

package form

import (
	"net/http"

	"github.com/socialaid-vn/gateway/staff"
)

// Password is the change-password form (current, new, repeat).
type Password struct {
	Current, New, Repeat string
}

// ParsePassword reads the form.
func ParsePassword(r *http.Request) Password {
	return Password{Current: r.PostFormValue("current"), New: r.PostFormValue("new"), Repeat: r.PostFormValue("repeat")}
}

// Validate checks the new password against the rules; the current one is checked by the store.
func (f Password) Validate(username string, t Translate) Errors {
	errs := Errors{}
	if f.New != f.Repeat {
		errs["repeat"] = t("password.mismatch")
	}
	if staff.CheckPassword(username, f.New) != nil {
		errs["new"] = t("password.weak")
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

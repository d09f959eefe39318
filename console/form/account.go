package form

import (
	"net/http"

	"github.com/socialaid-vn/gateway/staff"
)

// Account is the admin's new-account form (username, role, communes).
type Account struct {
	Username string
	Role     staff.Role
	Communes []string
}

// ParseAccount reads the form.
func ParseAccount(r *http.Request) Account {
	return Account{Username: field(r, "username"), Role: staff.Role(field(r, "role")), Communes: list(r, "communes")}
}

// Validate checks the username's shape, the role and that an officer has communes.
func (f *Account) Validate(t Translate) Errors {
	errs := Errors{}
	name, err := staff.NormalizeUsername(f.Username)
	if err != nil {
		errs["username"] = t("staff.err_username")
	}
	f.Username = name
	if !f.Role.Valid() {
		f.Role = staff.Officer
	}
	if f.Role == staff.Officer && len(f.Communes) == 0 {
		errs["communes"] = t("staff.err_communes")
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

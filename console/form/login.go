package form

import "net/http"

// Login is the sign-in form (POST /console/login: username, password, next).
type Login struct {
	Username, Password, Next string
}

// ParseLogin reads the form; the password is kept as typed (spaces count).
func ParseLogin(r *http.Request) Login {
	return Login{Username: field(r, "username"), Password: r.PostFormValue("password"), Next: field(r, "next")}
}

// Validate checks that both fields are there.
func (f Login) Validate(t Translate) Errors {
	if f.Username == "" || f.Password == "" {
		return Errors{"": t("login.required")}
	}
	return nil
}

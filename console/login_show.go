package console

import "net/http"

// loginShow serves the sign-in form; a signed-in person goes straight on.
func (c *Console) loginShow(w http.ResponseWriter, r *http.Request) {
	if _, err := c.staff.FromRequest(r); err == nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	c.render(w, r, 0, "login", view{Title: c.T(r, "login.title"), Data: loginData{Next: safeNext(r.URL.Query().Get("next"))}})
}

type loginData struct {
	Username, Next string
}

package console

import (
	"net/http"

	"github.com/socialaid-vn/gateway/staff"
)

// logout ends the session (POST /console/logout, with the form token).
func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	rc := reqCtx(r)
	if err := c.staff.EndSession(r.Context(), rc.sess.Token); err != nil {
		c.log.Warn("console logout", "err", err)
	}
	staff.ClearCookie(w, c.cfg.Secure)
	c.audit(r, rc.p.Username, "logout", "", "")
	http.Redirect(w, r, "/console/login", http.StatusSeeOther)
}

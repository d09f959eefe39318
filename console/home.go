package console

import (
	"net/http"
	"net/url"

	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/staff"
)

// home sends each role to where its work is: the cases inbox for admins and officers, the
// dashboard for viewers.
func (c *Console) home(w http.ResponseWriter, r *http.Request) {
	if reqCtx(r).p.Can(staff.Cases) && c.cases != nil {
		http.Redirect(w, r, "/console/cases", http.StatusSeeOther)
		return
	}
	if reqCtx(r).p.Can(staff.Broadcast) {
		http.Redirect(w, r, "/console/broadcasts", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/console/dashboard", http.StatusSeeOther)
}

// langSwitch remembers the chosen language (a year) and goes back to the page.
func (c *Console) langSwitch(w http.ResponseWriter, r *http.Request) {
	lang := i18n.Lang(r.URL.Query().Get("to"))
	if lang == "" {
		lang = i18n.Langs[0]
	}
	http.SetCookie(w, &http.Cookie{Name: "gw_lang", Value: lang, Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, Secure: c.cfg.Secure, SameSite: http.SameSiteLaxMode})
	back, _ := url.QueryUnescape(r.URL.Query().Get("back"))
	http.Redirect(w, r, safeNext(back), http.StatusSeeOther)
}

package console

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/socialaid-vn/gateway/broadcast"
	"github.com/socialaid-vn/gateway/console/form"
	"github.com/socialaid-vn/gateway/lookup"
)

// nowFunc is the console's clock (tests move it).
var nowFunc = time.Now

// broadcastCreate validates the composer and creates the broadcast: now, or at the chosen local
// time. A refusal shows the form again with the reasons next to the fields (400).
func (c *Console) broadcastCreate(w http.ResponseWriter, r *http.Request) {
	rc := reqCtx(r)
	f := form.ParseBroadcast(r)
	tr := func(k string, a ...string) string { return c.T(r, k, a...) }
	again := func(status int, errs form.Errors) {
		c.render(w, r, status, "compose", view{Title: c.T(r, "compose.title"), Nav: "broadcasts", Data: c.composeData(r, f, errs)})
	}
	if errs := f.Validate(rc.p, c.cfg.Communes, c.bc.Channels(), lookup.Zone(), nowFunc(), tr); errs != nil {
		again(http.StatusBadRequest, errs)
		return
	}
	pv, err := c.bc.Create(r.Context(), f.Request(rc.p.Username))
	if errors.Is(err, broadcast.ErrInvalid) {
		again(http.StatusBadRequest, c.serviceError(r, err))
		return
	}
	if err != nil {
		c.log.Error("console broadcast create", "err", err)
		again(http.StatusServiceUnavailable, form.Errors{"": c.T(r, "common.error")})
		return
	}
	c.audit(r, rc.p.Username, "broadcast_create", pv.ID, "recipients="+strconv.Itoa(pv.Recipients)+" sms_segments="+strconv.Itoa(pv.SMSSegments)+" status="+pv.Status)
	c.flash(w, c.T(r, "compose.created", "id", pv.ID))
	http.Redirect(w, r, "/console/broadcasts/"+pv.ID, http.StatusSeeOther)
}

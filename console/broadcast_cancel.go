package console

import (
	"errors"
	"net/http"

	"github.com/socialaid-vn/gateway/broadcast"
	"github.com/socialaid-vn/gateway/staff"
)

// broadcastCancel stops a scheduled or sending broadcast of the person's communes.
func (c *Console) broadcastCancel(w http.ResponseWriter, r *http.Request) {
	rep := c.report(w, r, staff.Broadcast)
	if rep == nil {
		return
	}
	err := c.bc.Cancel(r.Context(), rep.ID)
	switch {
	case errors.Is(err, broadcast.ErrFinished):
		c.flash(w, c.T(r, "report.already_done"))
	case err != nil:
		c.log.Error("console cancel", "err", err)
		c.fail(w, r, http.StatusServiceUnavailable, "console.common.error")
		return
	default:
		c.audit(r, reqCtx(r).p.Username, "broadcast_cancel", rep.ID, "")
		c.flash(w, c.T(r, "report.cancelled"))
	}
	http.Redirect(w, r, "/console/broadcasts/"+rep.ID, http.StatusSeeOther)
}

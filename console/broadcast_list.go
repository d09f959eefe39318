package console

import (
	"net/http"
	"strconv"
	"time"

	"github.com/socialaid-vn/gateway/broadcast"
)

type broadcastListData struct {
	Items []*broadcast.Report
	Next  int64 // unix ms for the next page, 0 at the end
}

// broadcastList lists the announcements the person's communes cover, newest first, 30 a page.
func (c *Console) broadcastList(w http.ResponseWriter, r *http.Request) {
	p := reqCtx(r).p
	var before time.Time
	if ms, err := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64); err == nil && ms > 0 {
		before = time.UnixMilli(ms)
	}
	items, next, err := c.bc.List(r.Context(), before, 30, func(rep *broadcast.Report) bool { return p.CoversAll(rep.Communes) })
	if err != nil {
		c.log.Error("console broadcast list", "err", err)
		c.fail(w, r, http.StatusServiceUnavailable, "console.common.error")
		return
	}
	d := broadcastListData{Items: items}
	if !next.IsZero() {
		d.Next = next.UnixMilli()
	}
	c.render(w, r, 0, "broadcasts", view{Title: c.T(r, "bc.title"), Nav: "broadcasts", Data: d})
}

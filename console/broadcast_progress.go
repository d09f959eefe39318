package console

import (
	"encoding/json"
	"net/http"

	"github.com/socialaid-vn/gateway/staff"
)

// broadcastProgress is the live progress of a broadcast (JSON for the progress bar).
func (c *Console) broadcastProgress(w http.ResponseWriter, r *http.Request) {
	rep := c.report(w, r, staff.Figures)
	if rep == nil {
		return
	}
	d := c.reportData(r, rep)
	lang := c.lang(r)
	reasons := func(rs []reasonCount) []map[string]any {
		out := []map[string]any{}
		for _, rc := range rs {
			out = append(out, map[string]any{"reason": c.reason(lang, rc.Reason), "count": formatNum(rc.Count)})
		}
		return out
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"status":       rep.Status,
		"status_label": c.T(r, "bc.status."+rep.Status),
		"percent":      percent(d.Done, rep.Total),
		"of":           c.T(r, "report.of", "done", formatNum(d.Done), "total", formatNum(rep.Total)),
		"sent":         formatNum(rep.Sent),
		"pending":      formatNum(rep.Pending),
		"failed":       reasons(d.Failed),
		"skipped":      reasons(d.Skipped),
		"live":         d.Live,
	})
}

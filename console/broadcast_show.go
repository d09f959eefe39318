package console

import (
	"errors"
	"net/http"
	"sort"

	"github.com/socialaid-vn/gateway/broadcast"
	"github.com/socialaid-vn/gateway/staff"
)

// reasonCount is one line of a report's failures or skips.
type reasonCount struct {
	Reason string
	Count  int
}

type reportData struct {
	R         *broadcast.Report
	Done      int // sent + failed + skipped
	Failed    []reasonCount
	Skipped   []reasonCount
	CanCancel bool
	Live      bool
}

func sorted(m map[string]int) []reasonCount {
	out := make([]reasonCount, 0, len(m))
	for k, v := range m {
		if v > 0 {
			out = append(out, reasonCount{k, v})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Reason < out[j].Reason
	})
	return out
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// report reads a broadcast the person may see; another commune's is 404.
func (c *Console) report(w http.ResponseWriter, r *http.Request, a staff.Action) *broadcast.Report {
	rep, err := c.bc.ReportFor(r.Context(), reqCtx(r).p, a, r.PathValue("id"))
	if errors.Is(err, broadcast.ErrNotFound) {
		c.fail(w, r, http.StatusNotFound, "console.common.not_found")
		return nil
	}
	if err != nil {
		c.log.Error("console report", "err", err)
		c.fail(w, r, http.StatusServiceUnavailable, "console.common.error")
		return nil
	}
	return rep
}

func (c *Console) reportData(r *http.Request, rep *broadcast.Report) reportData {
	live := rep.Status == broadcast.StatusSending || rep.Status == broadcast.StatusScheduled
	return reportData{
		R: rep, Done: rep.Sent + sum(rep.Failed) + sum(rep.Skipped),
		Failed: sorted(rep.Failed), Skipped: sorted(rep.Skipped), Live: live,
		CanCancel: live && reqCtx(r).p.Allow(staff.Broadcast, rep.Communes) == nil,
	}
}

// broadcastShow is a broadcast's page: audience, text, a progress bar that moves while it is
// sent (console.js polls /progress), failures and skips by reason, cancel and CSV export.
func (c *Console) broadcastShow(w http.ResponseWriter, r *http.Request) {
	rep := c.report(w, r, staff.Figures)
	if rep == nil {
		return
	}
	c.render(w, r, 0, "report", view{Title: c.T(r, "report.title", "id", rep.ID), Nav: "broadcasts", Data: c.reportData(r, rep)})
}

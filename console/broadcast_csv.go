package console

import (
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"

	"github.com/socialaid-vn/gateway/staff"
)

// broadcastCSV exports a broadcast's report as CSV: one line per outcome and reason
// (outcome,reason,count), after a header block with the broadcast's id, status, times and
// audience. It lists counts, never recipients: their addresses are personal data.
func (c *Console) broadcastCSV(w http.ResponseWriter, r *http.Request) {
	rep := c.report(w, r, staff.Figures)
	if rep == nil {
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="broadcast-`+rep.ID+`.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("\xef\xbb\xbf")) // BOM: spreadsheet programs then read UTF-8
	cw := csv.NewWriter(w)
	chans := make([]string, len(rep.Channels))
	for i, ch := range rep.Channels {
		chans[i] = string(ch)
	}
	rows := [][]string{
		{"outcome", "reason", "count"},
		{"id", rep.ID, ""},
		{"status", rep.Status, ""},
		{"created_at", localTime(rep.Created), ""},
		{"send_at", localTimePtr(rep.SendAt), ""},
		{"finished_at", localTimePtr(rep.Finished), ""},
		{"communes", strings.Join(rep.Communes, "; "), ""},
		{"channels", strings.Join(chans, "; "), ""},
		{"total", "", strconv.Itoa(rep.Total)},
		{"sent", "", strconv.Itoa(rep.Sent)},
		{"pending", "", strconv.Itoa(rep.Pending)},
		{"resent", "", strconv.Itoa(rep.Resent)},
	}
	for _, rc := range sorted(rep.Failed) {
		rows = append(rows, []string{"failed", rc.Reason, strconv.Itoa(rc.Count)})
	}
	for _, rc := range sorted(rep.Skipped) {
		rows = append(rows, []string{"skipped", rc.Reason, strconv.Itoa(rc.Count)})
	}
	_ = cw.WriteAll(rows)
}

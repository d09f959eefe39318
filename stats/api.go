package stats

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Authorize decides who reads the figures: it returns the communes the caller may see (nil for
// every commune and the total), or an error for a request without valid credentials (401).
type Authorize func(r *http.Request) (communes []string, err error)

// ParsePeriod reads from and to as YYYY-MM-DD (Vietnam time); an empty to is today, an empty
// from is 29 days before to (30 days in all).
func ParsePeriod(from, to string, now time.Time) (time.Time, time.Time, error) {
	end := now.In(Vietnam)
	if to != "" {
		t, err := time.ParseInLocation(time.DateOnly, to, Vietnam)
		if err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("to %q is not a date (YYYY-MM-DD)", to)
		}
		end = t
	}
	start := end.AddDate(0, 0, -29)
	if from != "" {
		t, err := time.ParseInLocation(time.DateOnly, from, Vietnam)
		if err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("from %q is not a date (YYYY-MM-DD)", from)
		}
		start = t
	}
	return start, end, nil
}

// APIHandler serves GET /api/stats?from=YYYY-MM-DD&to=YYYY-MM-DD: the Report as JSON (400 for a
// bad period, 401 when auth refuses). A caller restricted to communes gets only those communes,
// and a total made of them (without the figures kept in total only).
func (r *Recorder) APIHandler(auth Authorize) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		writeJSON := func(status int, v any) {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(status)
			enc := json.NewEncoder(w)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(v)
		}
		if req.Method != http.MethodGet {
			writeJSON(http.StatusMethodNotAllowed, map[string]string{"error": "GET only"})
			return
		}
		communes, err := auth(req)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gateway"`)
			writeJSON(http.StatusUnauthorized, map[string]string{"error": "missing or wrong credentials"})
			return
		}
		q := req.URL.Query()
		from, to, err := ParsePeriod(q.Get("from"), q.Get("to"), r.now())
		if err == nil && to.Before(from) {
			err = fmt.Errorf("from is after to")
		}
		if err == nil && to.Sub(from) > MaxDays*24*time.Hour {
			err = fmt.Errorf("at most %d days", MaxDays)
		}
		if err != nil {
			writeJSON(http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		rep, err := r.Report(req.Context(), from, to)
		if err != nil {
			writeJSON(http.StatusInternalServerError, map[string]string{"error": "figures unavailable"})
			r.log.Error("stats report", "err", err)
			return
		}
		if communes != nil {
			rep = rep.Only(communes)
		}
		writeJSON(http.StatusOK, rep)
	})
}

// Only keeps the figures of the given communes, with a total made of them (the medians over
// their cases together; the figures kept in total only are left out).
func (rep *Report) Only(communes []string) *Report {
	out := &Report{From: rep.From, To: rep.To, Total: newFigures(), Communes: map[string]Figures{}}
	for _, c := range communes {
		f, ok := rep.Communes[c]
		if !ok {
			continue
		}
		out.Communes[c] = f
		t := &out.Total
		t.Messages += f.Messages
		for k, v := range f.Questions {
			t.Questions[k] += v
		}
		for k, v := range f.StatusChecks {
			t.StatusChecks[k] += v
		}
		for k, v := range f.Cases.Opened {
			t.Cases.Opened[k] += v
		}
		for k, v := range f.OptOuts {
			t.OptOuts[k] += v
		}
		t.Cases.OpenedTotal += f.Cases.OpenedTotal
		t.Cases.Answered += f.Cases.Answered
		t.Cases.Closed += f.Cases.Closed
		t.Cases.Reopened += f.Cases.Reopened
		t.Cases.Overdue += f.Cases.Overdue
		t.Cases.CitizenMessages += f.Cases.CitizenMessages
		t.Broadcasts += f.Broadcasts
	}
	if out.Total.Messages > 0 {
		out.Total.NotUnderstoodShare = float64(out.Total.Questions["not_understood"]) / float64(out.Total.Messages)
	}
	// The medians of the communes together, from their durations (a median of medians is not one).
	out.durs = map[string]map[string][]float64{}
	for m, by := range rep.durs {
		var all []float64
		for _, c := range communes {
			all = append(all, by[c]...)
		}
		out.durs[m] = map[string][]float64{"": all}
		for _, c := range communes {
			out.durs[m][c] = by[c]
		}
	}
	out.Total.Cases.MedianFirstResponseHours = median(out.durs["case_first_response"][""])
	out.Total.Cases.MedianCloseHours = median(out.durs["case_time_to_close"][""])
	return out
}

// Write prints the report as a table: the total, then each commune.
func (rep *Report) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "period\t%s to %s\n", rep.From, rep.To)
	section := func(name string, f Figures) {
		fmt.Fprintf(tw, "\n%s\t\n", name)
		fmt.Fprintf(tw, "  messages\t%d\n", f.Messages)
		for _, k := range sortedKeys(f.Questions) {
			fmt.Fprintf(tw, "  questions %s\t%d\n", k, f.Questions[k])
		}
		fmt.Fprintf(tw, "  not understood share\t%.1f%%\n", 100*f.NotUnderstoodShare)
		for _, k := range []string{"verified", "failed", "locked"} {
			fmt.Fprintf(tw, "  status checks %s\t%d\n", k, f.StatusChecks[k])
		}
		fmt.Fprintf(tw, "  cases opened\t%d\n", f.Cases.OpenedTotal)
		for _, k := range sortedKeys(f.Cases.Opened) {
			fmt.Fprintf(tw, "  cases opened %s\t%d\n", k, f.Cases.Opened[k])
		}
		fmt.Fprintf(tw, "  cases answered\t%d\n", f.Cases.Answered)
		fmt.Fprintf(tw, "  cases closed\t%d\n", f.Cases.Closed)
		fmt.Fprintf(tw, "  cases reopened\t%d\n", f.Cases.Reopened)
		fmt.Fprintf(tw, "  cases overdue\t%d\n", f.Cases.Overdue)
		fmt.Fprintf(tw, "  median first response (hours)\t%s\n", hours(f.Cases.MedianFirstResponseHours))
		fmt.Fprintf(tw, "  median time to close (hours)\t%s\n", hours(f.Cases.MedianCloseHours))
		for _, k := range sortedKeys(f.Cases.Replies) {
			fmt.Fprintf(tw, "  case replies %s\t%d\n", k, f.Cases.Replies[k])
		}
		fmt.Fprintf(tw, "  broadcasts\t%d\n", f.Broadcasts)
		kinds := make([]string, 0, len(f.Deliveries))
		for k := range f.Deliveries {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			for _, o := range sortedKeys(f.Deliveries[k]) {
				fmt.Fprintf(tw, "  deliveries %s %s\t%d\n", k, o, f.Deliveries[k][o])
			}
		}
		for _, k := range sortedKeys(f.OptOuts) {
			fmt.Fprintf(tw, "  opt-outs %s\t%d\n", k, f.OptOuts[k])
		}
	}
	section("total", rep.Total)
	names := make([]string, 0, len(rep.Communes))
	for c := range rep.Communes {
		names = append(names, c)
	}
	sort.Slice(names, func(i, j int) bool {
		// The unknown commune last.
		if (names[i] == Unknown) != (names[j] == Unknown) {
			return names[j] == Unknown
		}
		return names[i] < names[j]
	})
	for _, c := range names {
		label := c
		if c == Unknown {
			label = "commune not known"
		}
		section(label, rep.Communes[c])
	}
	return tw.Flush()
}

func hours(h *float64) string {
	if h == nil {
		return "-"
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", *h), "0"), ".")
}

func sortedKeys(m map[string]int64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

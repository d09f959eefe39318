// Package stats keeps the supervision figures a department reports to its People's Council:
// questions by intent, the share not understood, status checks, cases opened, answered, closed
// and overdue with the median times to a first response and to closing, broadcasts and their
// deliveries, opt-outs — per day and per commune, and in total.
//
// Nothing personal is kept: a figure is a count (or a duration) under a metric name, a day and a
// commune. No address, code, text or name ever reaches this package, so the figures outlive the
// cases they count (cases are deleted after their retention; the counts stay).
//
// Storage: one Redis hash per day (Vietnam time), "stats:{stats}:d:YYYYMMDD", whose fields are
// "metric|commune" counters; durations for the medians in one list per day and metric,
// "stats:{stats}:t:YYYYMMDD:metric", of "seconds|commune". Every key carries the hash tag {stats};
// each write is a single command, so a Redis Cluster serves it unchanged.
package stats

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Vietnam is the time zone days are counted in.
var Vietnam = time.FixedZone("ICT", 7*3600)

// keep is how long a day's figures are kept (they are small: a few kilobytes a day).
const keep = 10 * 366 * 24 * time.Hour

// Recorder writes and reads the figures. It is safe for concurrent use.
type Recorder struct {
	rdb redis.UniversalClient
	log *slog.Logger
	now func() time.Time
	p   string
	// expiring is the last day whose key AddTo set the expiry of.
	expiring lastDay
}

// lastDay is a string swapped under a lock.
type lastDay struct {
	mu sync.Mutex
	d  string
}

// Swap sets d and returns the previous value.
func (l *lastDay) Swap(d string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.d
	l.d = d
	return old
}

// New returns a recorder on rdb; log may be nil.
func New(rdb redis.UniversalClient, log *slog.Logger) *Recorder {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Recorder{rdb: rdb, log: log, now: time.Now, p: "stats:{stats}:"}
}

// WithClock makes the recorder date its figures by now (tests).
func (r *Recorder) WithClock(now func() time.Time) *Recorder { r.now = now; return r }

func day(t time.Time) string { return t.In(Vietnam).Format("20060102") }

func (r *Recorder) dayKey(d string) string         { return r.p + "d:" + d }
func (r *Recorder) durKey(d, metric string) string { return r.p + "t:" + d + ":" + metric }

// clean keeps a commune or metric name usable in a field ("|" separates them).
func clean(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "|", "/") }

// Add counts n under metric for commune ("" when unknown) today. A Redis error is logged, never
// returned: figures must not break a conversation.
func (r *Recorder) Add(ctx context.Context, metric, commune string, n int64) {
	d := day(r.now())
	pipe := r.rdb.Pipeline()
	pipe.HIncrBy(ctx, r.dayKey(d), clean(metric)+"|"+clean(commune), n)
	pipe.Expire(ctx, r.dayKey(d), keep)
	if _, err := pipe.Exec(context.WithoutCancel(ctx)); err != nil {
		r.log.Warn("stats not counted", "metric", metric, "err", err)
	}
}

// AddTo queues Add's counting in pipe (the caller executes it with its own writes): the day's
// expiry is set once a day by this process rather than with every count.
func (r *Recorder) AddTo(ctx context.Context, pipe redis.Pipeliner, metric, commune string, n int64) {
	d := day(r.now())
	pipe.HIncrBy(ctx, r.dayKey(d), clean(metric)+"|"+clean(commune), n)
	if r.expiring.Swap(d) != d {
		pipe.Expire(ctx, r.dayKey(d), keep)
	}
}

// Observe records a duration under metric for commune today, for the medians.
func (r *Recorder) Observe(ctx context.Context, metric, commune string, d time.Duration) {
	key := r.durKey(day(r.now()), clean(metric))
	pipe := r.rdb.Pipeline()
	pipe.RPush(ctx, key, strconv.FormatInt(int64(d/time.Second), 10)+"|"+clean(commune))
	pipe.Expire(ctx, key, keep)
	if _, err := pipe.Exec(context.WithoutCancel(ctx)); err != nil {
		r.log.Warn("stats duration not recorded", "metric", metric, "err", err)
	}
}

// Figures are the counts of one commune, or of all.
type Figures struct {
	// Messages is every message the conversation core answered; Questions splits them by what
	// was understood (the intents of INTENTS.md, and not_understood, case_status, case_message,
	// empty).
	Messages  int64            `json:"messages"`
	Questions map[string]int64 `json:"questions"`
	// NotUnderstoodShare is not_understood / Messages (0 when there were none).
	NotUnderstoodShare float64 `json:"not_understood_share"`
	// StatusChecks are application status checks: verified, failed, locked.
	StatusChecks map[string]int64 `json:"status_checks"`
	Cases        CaseFigures      `json:"cases"`
	// Broadcasts created by staff; Deliveries of bulk messages by kind (broadcast, reminder,
	// notification) and outcome (sent, failed, skipped) — counted in the total only.
	Broadcasts int64                       `json:"broadcasts"`
	Deliveries map[string]map[string]int64 `json:"deliveries"`
	// OptOuts: unsubscribed (HUY, STOP, /stop), and stops recorded by a channel (blocked,
	// opted_out, ...).
	OptOuts map[string]int64 `json:"opt_outs"`
}

// CaseFigures are the figures of cases.
type CaseFigures struct {
	Opened          map[string]int64 `json:"opened"` // by kind
	OpenedTotal     int64            `json:"opened_total"`
	Answered        int64            `json:"answered"` // got their first response
	Closed          int64            `json:"closed"`
	Reopened        int64            `json:"reopened"`
	Overdue         int64            `json:"overdue"` // passed a deadline (once per case)
	CitizenMessages int64            `json:"citizen_messages"`
	Replies         map[string]int64 `json:"replies"` // staff messages to citizens by delivery: sent, undeliverable, failed (total only)
	// Medians over the cases answered (closed) in the period, in hours; absent when none.
	MedianFirstResponseHours *float64 `json:"median_first_response_hours,omitempty"`
	MedianCloseHours         *float64 `json:"median_close_hours,omitempty"`
}

func newFigures() Figures {
	return Figures{
		Questions: map[string]int64{}, StatusChecks: map[string]int64{}, Deliveries: map[string]map[string]int64{},
		OptOuts: map[string]int64{}, Cases: CaseFigures{Opened: map[string]int64{}, Replies: map[string]int64{}},
	}
}

// Report holds the figures of the days From to To (inclusive, Vietnam time).
type Report struct {
	From     string             `json:"from"`
	To       string             `json:"to"`
	Total    Figures            `json:"total"`
	Communes map[string]Figures `json:"communes"` // by commune; "" (unknown commune) is "-"

	durs map[string]map[string][]float64 // metric → commune ("" total) → hours, for Only's medians
}

// Unknown names, in Report.Communes, the figures whose commune was not known.
const Unknown = "-"

// MaxDays is the longest period one report covers.
const MaxDays = 3 * 366

// Report adds up the figures of the days from to to (inclusive, Vietnam time).
func (r *Recorder) Report(ctx context.Context, from, to time.Time) (*Report, error) {
	days, start, end, err := r.read(ctx, from, to)
	if err != nil {
		return nil, err
	}
	return fold(days, start.Format(time.DateOnly), end.Format(time.DateOnly)), nil
}

// Days gives one Report for each day from from to to (inclusive, Vietnam time), oldest first:
// what a chart of figures per day draws. It reads Redis once, as Report does.
func (r *Recorder) Days(ctx context.Context, from, to time.Time) ([]*Report, error) {
	days, start, _, err := r.read(ctx, from, to)
	if err != nil {
		return nil, err
	}
	out := make([]*Report, len(days))
	for i := range days {
		d := start.AddDate(0, 0, i).Format(time.DateOnly)
		out[i] = fold(days[i:i+1], d, d)
	}
	return out, nil
}

// dayData is what Redis holds for one day: its counters and its durations by metric.
type dayData struct {
	counts map[string]string
	lists  map[string][]string
}

// read fetches the raw figures of the days from to to, in one pipeline.
func (r *Recorder) read(ctx context.Context, from, to time.Time) ([]dayData, time.Time, time.Time, error) {
	from, to = from.In(Vietnam), to.In(Vietnam)
	start := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, Vietnam)
	end := time.Date(to.Year(), to.Month(), to.Day(), 0, 0, 0, 0, Vietnam)
	if end.Before(start) {
		return nil, start, end, fmt.Errorf("stats: from %s is after to %s", start.Format(time.DateOnly), end.Format(time.DateOnly))
	}
	if n := int(end.Sub(start).Hours()/24) + 1; n > MaxDays {
		return nil, start, end, fmt.Errorf("stats: %d days asked, at most %d", n, MaxDays)
	}
	type dayCmds struct {
		counts *redis.MapStringStringCmd
		lists  map[string]*redis.StringSliceCmd
	}
	var cmds []dayCmds
	pipe := r.rdb.Pipeline()
	for d := start; !d.After(end); d = d.AddDate(0, 0, 1) {
		key := day(d)
		dc := dayCmds{counts: pipe.HGetAll(ctx, r.dayKey(key)), lists: map[string]*redis.StringSliceCmd{}}
		for _, m := range durationMetrics {
			dc.lists[m] = pipe.LRange(ctx, r.durKey(key, m), 0, -1)
		}
		cmds = append(cmds, dc)
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return nil, start, end, fmt.Errorf("stats: read: %w", err)
	}
	out := make([]dayData, len(cmds))
	for i, dc := range cmds {
		out[i] = dayData{counts: dc.counts.Val(), lists: map[string][]string{}}
		for m, c := range dc.lists {
			out[i].lists[m] = c.Val()
		}
	}
	return out, start, end, nil
}

// fold adds up days into one report.
func fold(days []dayData, from, to string) *Report {
	rep := &Report{From: from, To: to, Total: newFigures(), Communes: map[string]Figures{}}
	durs := map[string]map[string][]float64{} // metric → commune ("" total) → hours
	for _, dc := range days {
		for field, v := range dc.counts {
			metric, commune, _ := strings.Cut(field, "|")
			n, _ := strconv.ParseInt(v, 10, 64)
			add(&rep.Total, metric, n, true)
			if commune == "" {
				commune = Unknown
			}
			f, ok := rep.Communes[commune]
			if !ok {
				f = newFigures()
			}
			if add(&f, metric, n, false) {
				rep.Communes[commune] = f
			}
		}
		for m, vals := range dc.lists {
			for _, v := range vals {
				secs, commune, _ := strings.Cut(v, "|")
				s, err := strconv.ParseFloat(secs, 64)
				if err != nil {
					continue
				}
				if commune == "" {
					commune = Unknown
				}
				if durs[m] == nil {
					durs[m] = map[string][]float64{}
				}
				durs[m][""] = append(durs[m][""], s/3600)
				durs[m][commune] = append(durs[m][commune], s/3600)
			}
		}
	}
	finish := func(f *Figures, commune string) {
		if f.Messages > 0 {
			f.NotUnderstoodShare = float64(f.Questions["not_understood"]) / float64(f.Messages)
		}
		f.Cases.MedianFirstResponseHours = median(durs["case_first_response"][commune])
		f.Cases.MedianCloseHours = median(durs["case_time_to_close"][commune])
	}
	finish(&rep.Total, "")
	for c, f := range rep.Communes {
		finish(&f, c)
		rep.Communes[c] = f
	}
	rep.durs = durs
	return rep
}

var durationMetrics = []string{"case_first_response", "case_time_to_close"}

// add puts one counter into f; total is false for a commune's figures, which leave out the
// figures only counted in total. It reports whether f changed.
func add(f *Figures, metric string, n int64, total bool) bool {
	name, sub, _ := strings.Cut(metric, ":")
	switch name {
	case "q":
		f.Messages += n
		f.Questions[sub] += n
	case "status":
		f.StatusChecks[sub] += n
	case "cases_opened":
		f.Cases.Opened[sub] += n
		f.Cases.OpenedTotal += n
	case "cases_answered":
		f.Cases.Answered += n
	case "cases_closed":
		f.Cases.Closed += n
	case "cases_reopened":
		f.Cases.Reopened += n
	case "cases_overdue":
		f.Cases.Overdue += n
	case "case_citizen_message":
		f.Cases.CitizenMessages += n
	case "case_replies":
		if !total {
			return false
		}
		f.Cases.Replies[sub] += n
	case "broadcasts":
		f.Broadcasts += n
	case "deliveries":
		if !total {
			return false
		}
		kind, outcome, _ := strings.Cut(sub, ":")
		if f.Deliveries[kind] == nil {
			f.Deliveries[kind] = map[string]int64{}
		}
		f.Deliveries[kind][outcome] += n
	case "optouts":
		f.OptOuts[sub] += n
	default:
		return false
	}
	return true
}

func median(xs []float64) *float64 {
	if len(xs) == 0 {
		return nil
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	m = float64(int64(m*100+0.5)) / 100
	return &m
}

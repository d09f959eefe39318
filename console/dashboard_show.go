package console

import (
	"context"
	"html/template"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/socialaid-vn/gateway/broadcast"
	"github.com/socialaid-vn/gateway/cases"
	"github.com/socialaid-vn/gateway/lookup"
	"github.com/socialaid-vn/gateway/staff"
	"github.com/socialaid-vn/gateway/stats"
)

// The dashboard: the supervision figures of package stats for a period, drawn as charts —
// questions by intent per day, the cases open and overdue per commune now, the median times to
// a first response and to closing, and the reach of broadcasts by outcome. An officer sees only
// the communes of the account; a viewer those of the account, or every commune. Figures only:
// nothing personal is on the page.

// periods are the preset periods, in days.
var periods = []int{7, 30, 90}

// maxDashboardDays bounds a period chosen by dates.
const maxDashboardDays = 366

type kpi struct {
	Label, Value string
}

type communeRow struct {
	Commune                string
	Messages, Opened       int64
	Answered, Closed       int64
	Overdue                int64
	FirstResponse, ToClose *float64
	Open, OverdueNow       int
}

type dashData struct {
	Periods       []int
	Period        string // "7", "30", "90" or "" (dates)
	From, To      string // YYYY-MM-DD
	FromText      string // dd/mm/yyyy
	ToText        string
	Commune       string
	Communes      []string
	Error         string
	KPIs          []kpi
	Questions     template.HTML
	QSeries       []series
	QTable        []column
	QTotals       []reasonCount // every topic over the period, most asked first
	Backlog       template.HTML
	Times         template.HTML
	Reach         template.HTML
	ReachSeries   []series
	ReachRows     []hrow
	ReachLocal    bool // the reach of the scope's own announcements (not the province's figures)
	Rows          []communeRow
	BacklogSeries []series
	TimesSeries   []series
	NothingAsked  bool
}

func (c *Console) dashboardShow(w http.ResponseWriter, r *http.Request) {
	if c.figures == nil {
		c.fail(w, r, http.StatusNotFound, "console.common.not_found")
		return
	}
	p := reqCtx(r).p
	lang := c.lang(r)
	q := r.URL.Query()
	d := dashData{Periods: periods, Communes: c.communesOf(p)}
	today := nowFunc().In(lookup.Zone())
	days := 30
	from, to := today.AddDate(0, 0, -(days-1)), today
	if q.Get("from") != "" || q.Get("to") != "" {
		f, err1 := time.ParseInLocation(time.DateOnly, q.Get("from"), lookup.Zone())
		t, err2 := time.ParseInLocation(time.DateOnly, q.Get("to"), lookup.Zone())
		switch {
		case err1 != nil || err2 != nil:
			d.Error = c.T(r, "dash.err.date")
		case t.Before(f):
			d.Error = c.T(r, "dash.err.order")
		case t.Sub(f) > maxDashboardDays*24*time.Hour:
			d.Error = c.T(r, "dash.err.long", "n", strconv.Itoa(maxDashboardDays))
		default:
			from, to = f, t
		}
	} else if n, err := strconv.Atoi(q.Get("period")); err == nil && slices.Contains(periods, n) {
		days = n
		from = today.AddDate(0, 0, -(days - 1))
	}
	if d.Error == "" && q.Get("from") == "" {
		d.Period = strconv.Itoa(days)
	}
	d.From, d.To = from.Format(time.DateOnly), to.Format(time.DateOnly)
	d.FromText, d.ToText = from.Format("02/01/2006"), to.Format("02/01/2006")
	if cm := q.Get("commune"); slices.Contains(d.Communes, cm) {
		d.Commune = cm
	}
	// The communes the figures are of: one chosen, the account's, or every commune (nil).
	var scope []string
	switch {
	case d.Commune != "":
		scope = []string{d.Commune}
	case !p.Everywhere():
		scope = p.Communes
	}

	ctx := r.Context()
	rep, err := c.figures.Report(ctx, from, to)
	var perDay []*stats.Report
	if err == nil {
		perDay, err = c.figures.Days(ctx, from, to)
	}
	if err != nil {
		c.log.Error("console dashboard", "err", err)
		c.fail(w, r, http.StatusServiceUnavailable, "console.common.error")
		return
	}
	if scope != nil {
		rep = rep.Only(scope)
		for i := range perDay {
			perDay[i] = perDay[i].Only(scope)
		}
	}
	tot := rep.Total
	d.KPIs = []kpi{
		{c.T(r, "dash.kpi.messages"), formatNum(tot.Messages)},
		{c.T(r, "dash.kpi.not_understood"), strconv.FormatFloat(100*tot.NotUnderstoodShare, 'f', 0, 64) + "%"},
		{c.T(r, "dash.kpi.status_checks"), formatNum(tot.StatusChecks["verified"])},
		{c.T(r, "dash.kpi.cases_opened"), formatNum(tot.Cases.OpenedTotal)},
		{c.T(r, "dash.kpi.cases_closed"), formatNum(tot.Cases.Closed)},
		{c.T(r, "dash.kpi.first_response"), c.duration(lang, tot.Cases.MedianFirstResponseHours)},
		{c.T(r, "dash.kpi.to_close"), c.duration(lang, tot.Cases.MedianCloseHours)},
	}

	// 1. Questions by intent per day: the six most asked, then the rest together.
	totals := map[string]int64{}
	for k, v := range tot.Questions {
		totals[k] += v
	}
	intents := make([]string, 0, len(totals))
	for k := range totals {
		intents = append(intents, k)
	}
	sort.Slice(intents, func(i, j int) bool {
		if totals[intents[i]] != totals[intents[j]] {
			return totals[intents[i]] > totals[intents[j]]
		}
		return intents[i] < intents[j]
	})
	for _, k := range intents {
		d.QTotals = append(d.QTotals, reasonCount{Reason: c.label(lang, "console.intent."+k, k), Count: int(totals[k])})
	}
	top := intents
	if len(top) > 6 {
		top = intents[:6]
	}
	for i, k := range top {
		d.QSeries = append(d.QSeries, series{Name: c.label(lang, "console.intent."+k, k), Class: "c" + strconv.Itoa(i)})
	}
	if len(intents) > len(top) {
		d.QSeries = append(d.QSeries, series{Name: c.T(r, "dash.other"), Class: "c6"})
	}
	for _, day := range perDay {
		t, _ := time.Parse(time.DateOnly, day.From)
		col := column{Label: t.Format("02/01"), Title: t.Format("02/01/2006"), Values: make([]float64, len(d.QSeries))}
		for k, v := range day.Total.Questions {
			i := slices.Index(top, k)
			if i < 0 {
				i = len(top)
			}
			col.Values[i] += float64(v)
		}
		d.QTable = append(d.QTable, col)
	}
	d.NothingAsked = tot.Messages == 0
	d.Questions = columnsSVG(c.T(r, "dash.questions"), d.QSeries, d.QTable)

	// 2. Cases open and overdue per commune, now.
	byCommune := map[string]*communeRow{}
	row := func(name string) *communeRow {
		if byCommune[name] == nil {
			byCommune[name] = &communeRow{Commune: name}
		}
		return byCommune[name]
	}
	if c.cases != nil {
		bl, err := c.cases.Backlogs(ctx, cases.FiguresFor(p, scope))
		if err != nil {
			c.log.Error("console dashboard backlog", "err", err)
		}
		for _, b := range bl {
			name := b.Commune
			if name == "" {
				name = stats.Unknown
			}
			rr := row(name)
			rr.Open, rr.OverdueNow = b.Open, b.Overdue
		}
	}
	for name, f := range rep.Communes {
		if f.Messages == 0 && f.Cases.OpenedTotal == 0 && f.Cases.Closed == 0 && f.Cases.Answered == 0 && f.Cases.Overdue == 0 {
			continue
		}
		rr := row(name)
		rr.Messages, rr.Opened, rr.Answered, rr.Closed, rr.Overdue = f.Messages, f.Cases.OpenedTotal, f.Cases.Answered, f.Cases.Closed, f.Cases.Overdue
		rr.FirstResponse, rr.ToClose = f.Cases.MedianFirstResponseHours, f.Cases.MedianCloseHours
	}
	order := map[string]int{}
	for i, name := range c.cfg.Communes {
		order[name] = i + 1
	}
	for _, rr := range byCommune {
		d.Rows = append(d.Rows, *rr)
	}
	sort.Slice(d.Rows, func(i, j int) bool {
		oi, oj := order[d.Rows[i].Commune], order[d.Rows[j].Commune]
		if oi == 0 {
			oi = 1 << 30
		}
		if oj == 0 {
			oj = 1 << 30
		}
		return oi < oj || oi == oj && d.Rows[i].Commune < d.Rows[j].Commune
	})
	name := func(commune string) string {
		if commune == stats.Unknown {
			return c.T(r, "dash.no_commune")
		}
		return commune
	}
	d.BacklogSeries = []series{{c.T(r, "dash.overdue_now"), "bad"}, {c.T(r, "dash.open_now"), "c0"}}
	var backlog, times []hrow
	for _, rr := range d.Rows {
		if rr.Open > 0 {
			backlog = append(backlog, hrow{Label: name(rr.Commune), Values: []float64{float64(rr.OverdueNow), float64(rr.Open - rr.OverdueNow)},
				Note: c.T(r, "dash.backlog_note", "open", formatNum(rr.Open), "overdue", formatNum(rr.OverdueNow))})
		}
		if rr.FirstResponse != nil || rr.ToClose != nil {
			v := func(h *float64) float64 {
				if h == nil {
					return 0
				}
				return max(*h, 1e-6) // a case answered within the minute still has its bar
			}
			first, toClose := c.duration(lang, rr.FirstResponse), c.duration(lang, rr.ToClose)
			times = append(times, hrow{Label: name(rr.Commune), Values: []float64{v(rr.FirstResponse), v(rr.ToClose)},
				Titles: []string{first, toClose}, Note: c.T(r, "dash.times_note", "first", first, "close", toClose)})
		}
	}
	if len(backlog) > 0 {
		d.Backlog = hbarsSVG(c.T(r, "dash.backlog"), d.BacklogSeries, backlog, true)
	}
	d.TimesSeries = []series{{c.T(r, "dash.first_response"), "c1"}, {c.T(r, "dash.to_close"), "c3"}}
	if len(times) > 0 {
		d.Times = hbarsSVG(c.T(r, "dash.times"), d.TimesSeries, times, false)
	}

	// 4. The reach of broadcasts, by outcome.
	d.ReachSeries = []series{{c.T(r, "dash.sent"), "ok"}, {c.T(r, "dash.failed"), "bad"}, {c.T(r, "dash.skipped"), "muted"}}
	if scope == nil {
		for _, kind := range []string{"broadcast", "reminder", "notification"} {
			o := tot.Deliveries[kind]
			if o["sent"]+o["failed"]+o["skipped"] == 0 {
				continue
			}
			d.ReachRows = append(d.ReachRows, hrow{Label: c.T(r, "dash.kind."+kind), Values: []float64{float64(o["sent"]), float64(o["failed"]), float64(o["skipped"])}})
		}
	} else {
		d.ReachLocal = true
		d.ReachRows = c.localReach(ctx, r, scope, from, to.AddDate(0, 0, 1))
	}
	d.Reach = hbarsSVG(c.T(r, "dash.reach"), d.ReachSeries, d.ReachRows, true)
	c.render(w, r, 0, "dashboard", view{Title: c.T(r, "dash.title"), Nav: "dashboard", Data: d})
}

// localReach adds up the outcomes of the announcements created from from to before to that
// concern only the scope's communes (the province's figures are not split by commune).
func (c *Console) localReach(ctx context.Context, r *http.Request, scope []string, from, to time.Time) []hrow {
	sp := &staff.Principal{Role: staff.Officer, Communes: scope}
	var sent, failed, skipped int
	before := to
	for page := 0; page < 20; page++ {
		items, next, err := c.bc.List(ctx, before, 50, nil)
		if err != nil {
			c.log.Error("console dashboard reach", "err", err)
			break
		}
		for _, rep := range items {
			if rep.Created.Before(from) || rep.Kind != "" && rep.Kind != broadcast.KindBroadcast || !sp.CoversAll(rep.Communes) {
				continue
			}
			sent += rep.Sent
			failed += sum(rep.Failed)
			skipped += sum(rep.Skipped)
		}
		if next.IsZero() || len(items) == 0 || items[len(items)-1].Created.Before(from) {
			break
		}
		before = next
	}
	if sent+failed+skipped == 0 {
		return nil
	}
	return []hrow{{Label: c.T(r, "dash.kind.broadcast"), Values: []float64{float64(sent), float64(failed), float64(skipped)}}}
}

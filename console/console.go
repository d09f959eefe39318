// Package console is the staff console at /console/: server-rendered pages (html/template,
// assets embedded, no CDN, a little plain JavaScript for live counts and progress) in Vietnamese
// first with an English switch, for the department's and communes' staff.
//
// Its surface reads like a table of contents in routes.go; each page or action is one small file
// (login_show.go, broadcast_create.go, ...); each form is a type in console/form that parses and
// validates the request and returns the errors shown next to the fields. Who may do what is
// decided by staff.Principal (role and communes), the same rule the /api/... handlers apply.
//
// Sessions are staff.Store sessions (cookie gw_staff: HttpOnly, SameSite=Lax, Secure under
// https). Every state-changing request must pass Go's cross-origin protection and carry the
// session's form token; every action is written to the audit stream.
package console

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/broadcast"
	"github.com/socialaid-vn/gateway/cases"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/lookup"
	"github.com/socialaid-vn/gateway/staff"
	"github.com/socialaid-vn/gateway/stats"
)

//go:embed templates static
var assets embed.FS

// Broadcasts is what the console needs of the broadcast service (package broadcast).
type Broadcasts interface {
	Preview(ctx context.Context, req broadcast.Request) (*broadcast.Preview, error)
	Create(ctx context.Context, req broadcast.Request) (*broadcast.Preview, error)
	List(ctx context.Context, before time.Time, n int, keep func(*broadcast.Report) bool) ([]*broadcast.Report, time.Time, error)
	ReportFor(ctx context.Context, p *staff.Principal, a staff.Action, id string) (*broadcast.Report, error)
	Cancel(ctx context.Context, id string) error
	Channels() []gateway.Channel
}

// Cases is what the console needs of the cases service (package cases): every call takes the
// cases principal of the person signed in (cases.ForStaff), so a case outside their communes
// is not found.
type Cases interface {
	List(ctx context.Context, p cases.Principal, f cases.Filter) (*cases.Page, error)
	Get(ctx context.Context, p cases.Principal, code string) (*cases.Case, error)
	Reply(ctx context.Context, p cases.Principal, code, text string) (*cases.Event, error)
	Note(ctx context.Context, p cases.Principal, code, text string) (*cases.Event, error)
	Assign(ctx context.Context, p cases.Principal, code, to string) (*cases.Event, error)
	Close(ctx context.Context, p cases.Principal, code, resolution string) (*cases.Event, error)
	Reopen(ctx context.Context, p cases.Principal, code string) (*cases.Event, error)
	Backlogs(ctx context.Context, p cases.Principal) ([]cases.Backlog, error)
	Reachable(commune string) []cases.Staff
}

// Figures is what the dashboard needs of the supervision figures (package stats).
type Figures interface {
	Report(ctx context.Context, from, to time.Time) (*stats.Report, error)
	Days(ctx context.Context, from, to time.Time) ([]*stats.Report, error)
}

// Config configures the console.
type Config struct {
	// Secure marks cookies Secure (served over https).
	Secure bool
	// Communes are the canonical commune names, in the order staff see them.
	Communes []string
	// SMSPrice is the estimated price of one SMS segment in VND, for the cost shown before
	// sending (0 hides the cost).
	SMSPrice int
	// SMSMaxSegments is the longest SMS a broadcast may be, to explain a refusal.
	SMSMaxSegments int
	// DefaultLang is the console's language before a person picks one (default vi).
	DefaultLang string
	// CommuneKinds gives each commune's kind (xa, phuong, dac_khu: knowledge/communes.csv), to
	// name it as people do in canned replies ("phường Vũ Phúc").
	CommuneKinds map[string]string
}

// Console serves /console/.
type Console struct {
	cfg     Config
	staff   *staff.Store
	bc      Broadcasts
	cases   Cases
	canned  *Canned
	figures Figures
	apps    *lookup.Store
	rdb     redis.UniversalClient
	cat     *i18n.Catalog
	log     *slog.Logger
	pages   map[string]*template.Template
	cop     *http.CrossOriginProtection
	mux     *http.ServeMux
	statics fs.FS
}

// New builds the console. Every dependency but log is required.
func New(cfg Config, st *staff.Store, bc Broadcasts, apps *lookup.Store, rdb redis.UniversalClient, cat *i18n.Catalog, log *slog.Logger) (*Console, error) {
	if st == nil || bc == nil || apps == nil || rdb == nil || cat == nil {
		return nil, fmt.Errorf("console: staff store, broadcasts, records, redis and catalog required")
	}
	if cfg.DefaultLang == "" {
		cfg.DefaultLang = i18n.Langs[0]
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Console{cfg: cfg, staff: st, bc: bc, apps: apps, rdb: rdb, cat: cat, log: log, cop: http.NewCrossOriginProtection()}
	c.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, http.StatusForbidden, "console.common.csrf")
	}))
	statics, err := fs.Sub(assets, "static")
	if err != nil {
		return nil, err
	}
	c.statics = statics
	if err := c.parse(); err != nil {
		return nil, err
	}
	c.mux = http.NewServeMux()
	c.routes()
	return c, nil
}

// WithCases turns on the cases inbox and the case pages, with the department's canned replies.
// Call before serving.
func (c *Console) WithCases(cs Cases, canned *Canned) *Console {
	c.cases, c.canned = cs, canned
	return c
}

// WithFigures turns on the dashboard. Call before serving.
func (c *Console) WithFigures(f Figures) *Console {
	c.figures = f
	return c
}

// ServeHTTP serves every /console/ route (see routes.go).
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	c.cop.Handler(c.mux).ServeHTTP(w, r)
}

// parse loads every page template with the layout.
func (c *Console) parse() error {
	funcs := template.FuncMap{
		"t":       func(lang, key string, args ...any) string { return c.cat.T(lang, "console."+key, strArgs(args)...) },
		"reason":  c.reason,
		"time":    func(t time.Time) string { return localTime(t) },
		"timeptr": func(t *time.Time) string { return localTimePtr(t) },
		"num":     formatNum,
		"pct":     percent,
		"join":    strings.Join,
		"has": func(list []string, v string) bool {
			for _, x := range list {
				if x == v {
					return true
				}
			}
			return false
		},
		"channel": func(lang string, ch gateway.Channel) string { return c.cat.T(lang, "console.channel."+string(ch)) },
		"cat":     func(lang, k string) string { return c.label(lang, "console.category."+k, k) },
		"action":  func(lang, a string) string { return c.label(lang, "console.audit.act."+a, a) },
		"str":     func(v any) string { return fmt.Sprint(v) },
		"who":     c.who,
		"kind": func(lang string, k cases.Kind) string {
			return c.label(lang, "console.case.kind."+string(k), string(k))
		},
		"cstatus": func(lang string, s cases.Status) string {
			return c.label(lang, "console.case.status."+string(s), string(s))
		},
		"duration": c.duration,
		"delivery": c.delivery,
		"commune":  c.communeLabel,
	}
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html")
	if err != nil {
		return err
	}
	names, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		return err
	}
	c.pages = map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimPrefix(n, "templates/")
		if base == "layout.html" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(assets, n)
		if err != nil {
			return fmt.Errorf("console template %s: %w", base, err)
		}
		c.pages[strings.TrimSuffix(base, ".html")] = t
	}
	return nil
}

func strArgs(args []any) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = fmt.Sprint(a)
	}
	return out
}

// label is the catalog text of key, or fallback when the catalog has none.
func (c *Console) label(lang, key, fallback string) string {
	if c.cat.Has(lang, key) {
		return c.cat.T(lang, key)
	}
	return fallback
}

// reason explains a delivery report's reason key.
func (c *Console) reason(lang, k string) string {
	return c.label(lang, "console.reason."+k, strings.ReplaceAll(k, "_", " "))
}

// view is what every page template gets.
type view struct {
	Lang, Other string
	Title       string
	Nav         string // the active section
	User        *staff.Account
	P           *staff.Principal
	CSRF        string
	Flash       string
	Error       string
	Path        string
	Data        any
}

// render writes a page; status 0 means 200.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, page string, v view) {
	v.Lang = c.lang(r)
	v.Other = "en"
	if v.Lang == "en" {
		v.Other = "vi"
	}
	v.Path = r.URL.RequestURI()
	if rc := reqCtx(r); rc != nil {
		v.User, v.P, v.CSRF = rc.sess.Account, rc.p, rc.sess.CSRF
	}
	if v.Flash == "" {
		v.Flash = c.takeFlash(w, r)
	}
	t := c.pages[page]
	if t == nil {
		http.Error(w, "no such page", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		c.log.Error("console render", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fail shows an error page with the catalog text key.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, status int, key string) {
	lang := c.lang(r)
	c.render(w, r, status, "error", view{Title: c.cat.T(lang, key), Error: c.cat.T(lang, key)})
}

// lang is the console language: the gw_lang cookie, else the browser's, else the default.
func (c *Console) lang(r *http.Request) string {
	if ck, err := r.Cookie("gw_lang"); err == nil {
		if l := i18n.Lang(ck.Value); l != "" {
			return l
		}
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if l := i18n.Lang(tag); l != "" {
			return l
		}
	}
	return c.cfg.DefaultLang
}

// T translates a console key for the request's language.
func (c *Console) T(r *http.Request, key string, args ...string) string {
	return c.cat.T(c.lang(r), "console."+key, args...)
}

// flash keeps a one-time message for the next page (a cookie; the text is not personal).
func (c *Console) flash(w http.ResponseWriter, msg string) {
	http.SetCookie(w, &http.Cookie{Name: "gw_flash", Value: encodeFlash(msg), Path: "/console/", HttpOnly: true,
		Secure: c.cfg.Secure, SameSite: http.SameSiteLaxMode, MaxAge: 60})
}

func (c *Console) takeFlash(w http.ResponseWriter, r *http.Request) string {
	ck, err := r.Cookie("gw_flash")
	if err != nil {
		return ""
	}
	http.SetCookie(w, &http.Cookie{Name: "gw_flash", Value: "", Path: "/console/", MaxAge: -1, HttpOnly: true, Secure: c.cfg.Secure, SameSite: http.SameSiteLaxMode})
	return decodeFlash(ck.Value)
}

// audit records a staff action; a failure to record is logged, not shown.
func (c *Console) audit(r *http.Request, actor, action, target, detail string) {
	err := c.staff.Audit(context.WithoutCancel(r.Context()), staff.AuditEntry{
		Actor: actor, Action: action, Target: target, Detail: detail, Addr: staff.ClientAddr(r),
	})
	if err != nil {
		c.log.Warn("console audit", "action", action, "err", err)
	}
}

// Vietnam time for every date staff see.
func localTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(lookup.Zone()).Format("02/01/2006 15:04")
}

func localTimePtr(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return localTime(*t)
}

// formatNum writes 1234567 as 1.234.567 (Vietnamese thousands separator).
func formatNum(v any) string {
	n, _ := strconv.ParseInt(fmt.Sprint(v), 10, 64)
	s := strconv.FormatInt(max(n, -n), 10)
	var b strings.Builder
	if n < 0 {
		b.WriteByte('-')
	}
	for i, d := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte('.')
		}
		b.WriteRune(d)
	}
	return b.String()
}

func percent(done, total int) int {
	if total <= 0 {
		return 100
	}
	return min(100, done*100/total)
}

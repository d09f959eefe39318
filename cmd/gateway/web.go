package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/cases"
	"github.com/socialaid-vn/gateway/console"
	"github.com/socialaid-vn/gateway/staff"
	"github.com/socialaid-vn/gateway/webchat"
)

// The web side of `gateway serve`: the citizens' web chat (a channel that needs no
// credentials, so the embedded demo shows the whole loop), the staff console (announcements,
// records, the cases inbox, the dashboard), and the staff API (/api/broadcasts, /api/cases,
// /api/stats) behind staff sessions or ADMIN_TOKEN.

// demoAdmin is the account the embedded demo creates.
const demoAdmin = "admin"

func (s *server) newWeb(senders map[gateway.Channel]gateway.Sender) error {
	web, err := webchat.New(webchat.Config{
		Origins: s.cfg.WebchatOrigins, Secure: s.cfg.Secure(), Catalog: s.cat, DefaultLang: s.cfg.DefaultLang,
	}, s.conn.Client, s.engine, s.aud, s.log.With("channel", "web"))
	if err != nil {
		return fmt.Errorf("webchat: %w", err)
	}
	s.web = web
	senders[gateway.Web] = web
	return nil
}

// newConsole builds the staff store and console. On the embedded demo it creates an admin with
// a one-time password (to be changed at the first sign-in), printed in the start-up log line.
func (s *server) newConsole(ctx context.Context) error {
	s.staff = staff.NewStore(s.conn.Client, staff.Options{
		Communes: s.communes, SessionIdle: s.cfg.ConsoleSessionIdle, SessionMax: s.cfg.ConsoleSessionMax,
	})
	s.parts.add(s.staff)
	if s.conn.Embedded {
		pw := staff.GeneratePassword()
		_, err := s.staff.Add(ctx, demoAdmin, staff.Admin, nil, pw, true)
		if err != nil && !errors.Is(err, staff.ErrExists) {
			return fmt.Errorf("demo admin: %w", err)
		}
		if err == nil {
			s.demoPassword = pw
		}
	}
	canned, err := console.LoadCanned(s.fsys)
	if err != nil {
		return err
	}
	kinds := map[string]string{}
	for _, cm := range s.kb.Communes() {
		kinds[cm.Name] = cm.Kind
	}
	c, err := console.New(console.Config{
		Secure: s.cfg.Secure(), Communes: s.communes, SMSPrice: s.cfg.SMSPriceVND,
		SMSMaxSegments: s.cfg.SMSMaxSegments, DefaultLang: s.cfg.DefaultLang, CommuneKinds: kinds,
	}, s.staff, s.broadcast, s.apps, s.conn.Client, s.cat, s.log.With("part", "console"))
	if err != nil {
		return err
	}
	s.console = c.WithCases(s.cases, canned).WithFigures(s.stats)
	// Every staff action on a case (console, API, Telegram) goes to the staff audit stream.
	s.cases.WithAuditor(caseAudit{s.staff, s.log})
	return nil
}

// caseAudit writes the cases service's staff actions into the staff audit stream, with the
// actor named as elsewhere in it (the console username, "admin-token" for machines).
type caseAudit struct {
	st  *staff.Store
	log *slog.Logger
}

func (a caseAudit) Audit(ctx context.Context, actor, action, code, detail string) {
	switch {
	case actor == cases.Admin.ID:
		actor = "admin-token"
	case strings.HasPrefix(actor, cases.ConsolePrefix):
		actor = strings.TrimPrefix(actor, cases.ConsolePrefix)
	}
	err := a.st.Audit(ctx, staff.AuditEntry{Actor: actor, Action: action, Target: code, Detail: detail, Addr: staff.ClientAddrFrom(ctx)})
	if err != nil {
		a.log.Warn("case audit", "action", action, "err", err)
	}
}

// loadDemoCases opens the demo cases (demo/cases.toml) on the embedded demo, so that a
// newcomer's inbox and dashboard are not empty.
func (s *server) loadDemoCases(ctx context.Context) error {
	if !s.conn.Embedded {
		return nil
	}
	n, err := s.cases.LoadDemo(ctx, s.fsys)
	if err != nil {
		return fmt.Errorf("demo cases: %w", err)
	}
	s.log.Info("demo cases loaded (marked [Mẫu]; nothing is sent for them)", "cases", n)
	return nil
}

func (s *server) webRoutes() {
	s.web.Register(s.mux)
	s.mux.Handle("/console/", s.console)
	s.mux.Handle("GET /console", http.RedirectHandler("/console/", http.StatusMovedPermanently))
	s.mux.Handle("GET /admin", http.RedirectHandler("/console/", http.StatusMovedPermanently))
	api := s.staff.API(s.cfg.AdminToken, s.broadcast.Handler())
	s.mux.Handle("/api/broadcasts", api)
	s.mux.Handle("/api/broadcasts/", api)
	// Cases and figures: the same console sessions (with their roles and communes) or
	// ADMIN_TOKEN; without either, 401.
	casesAPI := s.staff.API(s.cfg.AdminToken, s.cases.APIHandler(cases.StaffAuthorizer{}))
	s.mux.Handle("/api/cases", casesAPI)
	s.mux.Handle("/api/cases/", casesAPI)
	s.mux.Handle("GET /api/stats", s.staff.API(s.cfg.AdminToken, s.stats.APIHandler(figuresScope)))
}

// figuresScope is the communes a request to /api/stats may see: every commune for an admin,
// ADMIN_TOKEN or a viewer without communes (nil), else the account's.
func figuresScope(r *http.Request) ([]string, error) {
	p := staff.FromContext(r.Context())
	if !p.Can(staff.Figures) {
		return nil, errors.New("no figures for this principal")
	}
	if p.Everywhere() {
		return nil, nil
	}
	return p.Communes, nil
}

// logServing writes the start-up line: where to open the chat and the console, and on the
// embedded demo the admin's one-time password.
func (s *server) logServing(ln net.Listener, channels []string) {
	base := "http://" + ln.Addr().String()
	if host, port, err := net.SplitHostPort(ln.Addr().String()); err == nil && (host == "::" || host == "0.0.0.0" || host == "") {
		base = "http://localhost:" + port
	}
	if s.cfg.PublicBaseURL != "" {
		base = strings.TrimRight(s.cfg.PublicBaseURL, "/")
	}
	attrs := []any{"addr", ln.Addr().String(), "channels", channels, "embedded_redis", s.conn.Embedded,
		"staff_api", s.cfg.AdminToken != "", "web_chat", base + "/", "console", base + "/console/"}
	if s.demoPassword != "" {
		attrs = append(attrs, "console_user", demoAdmin, "console_password", s.demoPassword)
	}
	s.log.Info("gateway serving", attrs...)
}

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/console"
	"github.com/socialaid-vn/gateway/staff"
	"github.com/socialaid-vn/gateway/webchat"
)

// The web side of `gateway serve`: the citizens' web chat (a channel that needs no
// credentials, so the embedded demo shows the whole loop), the staff console, and the staff API
// behind staff sessions or ADMIN_TOKEN.

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
	c, err := console.New(console.Config{
		Secure: s.cfg.Secure(), Communes: s.communes, SMSPrice: s.cfg.SMSPriceVND,
		SMSMaxSegments: s.cfg.SMSMaxSegments, DefaultLang: s.cfg.DefaultLang,
	}, s.staff, s.broadcast, s.apps, s.conn.Client, s.cat, s.log.With("part", "console"))
	if err != nil {
		return err
	}
	s.console = c
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

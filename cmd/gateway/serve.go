package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/audience"
	"github.com/socialaid-vn/gateway/bot"
	"github.com/socialaid-vn/gateway/broadcast"
	"github.com/socialaid-vn/gateway/cases"
	"github.com/socialaid-vn/gateway/config"
	"github.com/socialaid-vn/gateway/console"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/lookup"
	"github.com/socialaid-vn/gateway/metrics"
	"github.com/socialaid-vn/gateway/sms"
	"github.com/socialaid-vn/gateway/staff"
	"github.com/socialaid-vn/gateway/webchat"
	"github.com/socialaid-vn/gateway/zalo"
)

// shutdownGrace bounds a graceful stop: in-flight requests and sends get this long to finish,
// so that the process exits within 10 seconds of SIGTERM.
const shutdownGrace = 8 * time.Second

// cmdServe runs the HTTP server and every configured channel until SIGINT/SIGTERM.
func cmdServe(ctx context.Context, env *environ, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%w: serve takes no arguments (configuration is by environment variables: gateway help config)", errUsage)
	}
	cfg, err := config.Load(env.getenv)
	if err != nil {
		return err
	}
	log := newLogger(env.stderr, cfg.LogLevel)
	srv, err := newServer(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer srv.Close()
	if err := srv.loadDemoCases(ctx); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("HTTP_ADDR: %w", err)
	}
	return srv.Serve(ctx, ln)
}

// server is a running gateway: HTTP endpoints, channels and workers.
type server struct {
	*app
	mux       *http.ServeMux
	bot       *bot.Bot
	sms       *sms.Channel
	smsParts  *smsParts
	zalo      *zalo.Channel
	broadcast *broadcast.Service
	web       *webchat.Channel
	staff     *staff.Store
	console   *console.Console
	// demoPassword is the one-time password of the embedded demo's admin ("" otherwise).
	demoPassword string
}

func newServer(ctx context.Context, cfg config.Config, log *slog.Logger) (*server, error) {
	a, err := newApp(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	// For whoever runs the service (not in chat): a calendar that runs out makes deadlines wrong.
	if w := a.kb.CalendarWarning(time.Now()); w != "" {
		log.Warn(w)
	}
	s := &server{app: a, mux: http.NewServeMux()}
	senders := map[gateway.Channel]gateway.Sender{}
	if cfg.TelegramEnabled() {
		s.bot, err = bot.New(bot.Config{
			Token: cfg.TelegramToken, APIURL: cfg.TelegramAPIURL,
			WebhookURL: cfg.TelegramWebhookURL, WebhookSecret: cfg.TelegramWebhookSecret,
			MPS: cfg.TelegramMPS, StaffIDs: cfg.StaffTelegramIDs, DefaultLang: cfg.DefaultLang,
		}, a.conn.Client, a.engine, a.aud, a.cat, log.With("channel", "telegram"))
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("telegram: %w", err)
		}
		senders[gateway.Telegram] = s.bot
	}
	if cfg.SMSEnabled() {
		s.smsParts, err = newSMS(cfg, a, log.With("channel", "sms"))
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("sms: %w", err)
		}
		s.sms = s.smsParts.ch
		senders[gateway.SMS] = s.sms
	}
	if cfg.ZaloEnabled() {
		s.zalo, err = zalo.New(zalo.Config{
			AppID: cfg.ZaloAppID, AppSecret: cfg.ZaloAppSecret, OASecretKey: cfg.ZaloOASecretKey,
			RefreshToken: cfg.ZaloRefreshToken, APIURL: cfg.ZaloAPIURL, OAuthURL: cfg.ZaloOAuthURL,
			ZNSURL: cfg.ZaloZNSURL, MPS: cfg.ZaloMPS, DefaultLang: cfg.DefaultLang,
			ZNSTemplates: map[string]string{
				broadcast.KindNotification: cfg.ZaloZNSNotificationTmpl, broadcast.KindReminder: cfg.ZaloZNSReminderTemplate,
			},
		}, a.conn.Client, a.engine, a.aud, a.cat, log.With("channel", "zalo"))
		if err != nil {
			a.Close()
			return nil, err
		}
		senders[gateway.Zalo] = s.zalo
	}
	if err := s.newWeb(senders); err != nil {
		a.Close()
		return nil, err
	}
	s.broadcast = broadcast.New(a.conn.Client, a.aud, senders, a.cat, broadcast.Config{
		SMSMaxSegments: cfg.SMSMaxSegments, SMSUnicode: cfg.SMSUnicode,
		ReminderDaysBefore: cfg.ReminderDaysBefore, Communes: a.communes,
	}, log.With("part", "broadcast")).
		WithNotifier(lookupChanges{a.apps, a.cat}).
		WithReminders(lookupSchedules{a.apps}).
		WithCounter(a.stats)
	// Case answers and staff messages go through the broadcast service's direct messages.
	a.cases.WithOutbox(casesOutbox{s.broadcast})
	a.parts.add(s.broadcast)
	if s.zalo != nil {
		a.parts.add(s.zalo)
	}
	if s.bot != nil {
		s.bot.SetStaffCommand("broadcast", s.broadcast.StaffCommand)
		s.bot.SetStats(subscriberStats{a.aud, a.cases})
		s.bot.SetStaffCommand("case", a.cases.TelegramCommand)
		s.bot.SetStaffCommand("cases", func(ctx context.Context, userID int64, _ string) ([]gateway.Reply, error) {
			return a.cases.TelegramCommand(ctx, userID, "list")
		})
		s.bot.SetStaffReply(a.cases.TelegramReply)
	}
	if err := s.newConsole(ctx); err != nil {
		a.Close()
		return nil, err
	}
	s.routes()
	return s, nil
}

func (s *server) routes() {
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(metrics.Registry, promhttp.HandlerOpts{}))
	if s.bot != nil && s.cfg.TelegramWebhookURL != "" {
		s.mux.Handle("POST /telegram/webhook", s.bot.WebhookHandler())
	}
	if s.smsParts != nil {
		s.smsParts.routes(s.mux, s.log.With("channel", "sms"))
	}
	if s.zalo != nil {
		s.mux.Handle("POST /zalo/webhook", s.zalo.WebhookHandler())
	}
	if s.cfg.AdminToken != "" {
		s.mux.Handle("POST /api/applications", s.apps.ChangesHandler(s.cfg.AdminToken))
	}
	s.webRoutes()
}

// Serve runs until ctx ends, then stops accepting requests, lets in-flight work finish within
// shutdownGrace, and returns.
func (s *server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	hs.RegisterOnShutdown(s.web.Shutdown) // open web chat streams end at once
	workCtx, stopWork := context.WithCancel(context.Background())
	defer stopWork()
	var wg sync.WaitGroup
	runPart := func(name string, run func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(workCtx); err != nil && !errors.Is(err, context.Canceled) {
				s.log.Error(name+" stopped", "err", err)
			}
		}()
	}
	channels := []string{}
	if s.bot != nil {
		mode := "polling"
		if s.cfg.TelegramWebhookURL != "" {
			mode = "webhook"
		}
		channels = append(channels, "telegram ("+mode+")")
		runPart("telegram", s.bot.Run)
	}
	if s.sms != nil {
		channels = append(channels, s.smsParts.names(s.cfg.SMSOutbound))
	}
	if s.zalo != nil {
		channels = append(channels, "zalo")
		runPart("zalo", s.zalo.Run)
	}
	runPart("broadcast", s.broadcast.Run)
	runPart("cases", s.cases.Run)
	runPart("webchat", s.web.Run)
	channels = append(channels, "web")
	s.logServing(ln, channels)
	if len(channels) == 1 {
		s.log.Info("only the web chat is on: set TELEGRAM_TOKEN, ZALO_*, KANNEL_* and/or TWILIO_* for Telegram, Zalo and SMS (try `gateway chat` meanwhile)")
	}

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	s.log.Info("shutting down")
	shCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	_ = hs.Shutdown(shCtx)
	stopWork()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-shCtx.Done():
		s.log.Warn("workers did not stop in time")
	}
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return serveErr
}

// lookupChanges lets the broadcast notifier find who to tell about a status change.
type lookupChanges struct {
	apps *lookup.Store
	cat  *i18n.Catalog
}

func (l lookupChanges) Watchers(ctx context.Context, code string) ([]broadcast.Watcher, error) {
	ws, err := l.apps.Watchers(ctx, code)
	out := make([]broadcast.Watcher, len(ws))
	for i, w := range ws {
		out[i] = broadcast.Watcher{Channel: w.Channel, ChatID: w.ChatID, Lang: w.Lang}
	}
	return out, err
}

func (l lookupChanges) Phone(ctx context.Context, code string) (string, error) {
	return l.apps.Phone(ctx, code)
}

func (l lookupChanges) Render(lang, code, status string) gateway.Reply {
	return lookup.NotificationReply(l.cat, lang, code, status)
}

// lookupSchedules gives the reminder scheduler the imported payment sessions.
type lookupSchedules struct{ apps *lookup.Store }

func (l lookupSchedules) Payments(ctx context.Context, commune string, now time.Time) ([]broadcast.Schedule, error) {
	ss, err := l.apps.Payments(ctx, commune, now)
	if err != nil {
		return nil, err
	}
	out := make([]broadcast.Schedule, len(ss))
	for i, sc := range ss {
		out[i] = broadcast.Schedule{Commune: sc.Commune, Start: sc.Start, End: sc.End, Place: sc.Place, Method: sc.Method}
	}
	return out, nil
}

// subscriberStats gives staff's /stats the number of subscribers who may be messaged, per
// channel, and the cases waiting.
type subscriberStats struct {
	aud   *audience.Store
	cases *cases.Service
}

func (st subscriberStats) Counts(ctx context.Context) (map[string]int64, error) {
	total, per, err := st.aud.Count(ctx, audience.Filter{})
	if err != nil {
		return nil, err
	}
	out := map[string]int64{"subscribers": int64(total)}
	for ch, n := range per {
		out["subscribers_"+string(ch)] = int64(n)
	}
	if st.cases != nil {
		cs, err := st.cases.Counts(ctx)
		if err != nil {
			return out, err
		}
		for k, v := range cs {
			out[k] = v
		}
	}
	return out, nil
}

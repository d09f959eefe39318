// Package bot is the Telegram channel: it receives updates (long polling or a webhook), turns
// them into gateway.Inbound for the conversation core, and renders the core's replies as Telegram
// messages (HTML, inline keyboards, a "share my phone number" button). Every message it sends —
// replies, broadcasts, notifications — goes through Send, which keeps Telegram's limits in Redis
// (30 messages/s in total, 1/s per chat, shared by every replica), pauses the whole bot on a 429
// retry_after, marks users who blocked the bot as stopped, and maps every failure to
// *gateway.SendError.
//
// It wraps go-telegram-bot-api v5, giving it an HTTP client whose requests carry a context, so a
// long poll or a send is cancelled on shutdown.
//
// Only private chats are served: in groups the bot answers commands with a pointer to a private
// chat (application details are personal) and ignores everything else; channel posts are not
// requested at all.
package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/throttle"
)

// Config configures the Telegram channel (see config.Vars for the environment variables).
type Config struct {
	// Token is the bot token from BotFather ("123456:ABC...").
	Token string
	// APIURL is the Bot API base URL without trailing slash; "" means https://api.telegram.org.
	APIURL string
	// WebhookURL selects webhook mode: the public HTTPS URL Telegram posts to (ending in
	// /telegram/webhook). Empty means long polling.
	WebhookURL string
	// WebhookSecret is sent by Telegram in X-Telegram-Bot-Api-Secret-Token; required with
	// WebhookURL. Without it the webhook handler refuses every request.
	WebhookSecret string
	// MPS is the total messages per second for all replicas (default 30).
	MPS int
	// StaffIDs are the Telegram user ids allowed to use staff commands (/stats, /broadcast).
	StaffIDs []int64
	// HTTPClient is used for every Bot API call (optional; tests pass one). Its Timeout should be
	// zero: each call sets its own deadline, and long polls last PollTimeout plus a margin.
	HTTPClient *http.Client
	// DefaultLang is the language of texts for people whose language is unknown ("vi" if empty).
	DefaultLang string
	// PollTimeout is the long-poll wait of getUpdates (default 25s).
	PollTimeout time.Duration
}

// Handler is the conversation core: it answers one inbound message.
type Handler interface {
	Handle(ctx context.Context, in gateway.Inbound) ([]gateway.Reply, error)
}

// Stops records opt-outs (package audience). Stop removes a recipient from every audience until
// Resume; the bot calls Stop when Telegram says the user blocked the bot or is deactivated, and
// Resume when the user sends /start.
type Stops interface {
	Stop(ctx context.Context, ch gateway.Channel, id, reason string) error
	Resume(ctx context.Context, ch gateway.Channel, id string) error
}

// Stats gives staff figures that are cheap to compute (counts kept by other packages), shown by
// /stats after the bot's own counters. Keys are machine names; a key with a text in the catalog
// under "telegram.stats.<key>" is shown with that label.
type Stats interface {
	Counts(ctx context.Context) (map[string]int64, error)
}

// StaffReply answers a staff member's reply (Telegram's reply_to_message) to one of the bot's
// messages: repliedTo is the text of the message replied to, text the reply. handled=false means
// the reply is not about anything the hook knows (the bot then treats it as a message).
type StaffReply func(ctx context.Context, userID int64, repliedTo, text string) (replies []gateway.Reply, handled bool, err error)

// StaffCommand runs a staff-only command. userID is the staff member's Telegram id (already
// checked against Config.StaffIDs); args is the text after the command. The replies are sent to
// the staff member.
type StaffCommand func(ctx context.Context, userID int64, args string) ([]gateway.Reply, error)

// Bot is the Telegram channel. It is safe for concurrent use.
type Bot struct {
	cfg   Config
	rdb   redis.UniversalClient
	core  Handler
	stops Stops
	cat   *i18n.Catalog
	log   *slog.Logger
	lim   *throttle.Limiter
	base  *tgbotapi.BotAPI // template; every call uses a copy bound to a context (see api)
	doer  httpDoer
	staff map[int64]bool

	mu         sync.RWMutex
	staffCmd   map[string]StaffCommand
	staffReply StaffReply
	stats      Stats

	username atomic.Value // string: the bot's @username once getMe answered

	global  throttle.Bucket
	chatLim throttle.Limit
	locks   chatLocks // per-chat ordering (chatlock.go)

	// Tunables, changed by tests only.
	backoffBase time.Duration // first retry wait after a network error or 5xx
	backoffMax  time.Duration
	maxAttempts int // tries of one message before giving up on retryable errors
}

// Redis keys (all prefixed "tg:").
const (
	keyOffset   = "tg:offset"    // next getUpdates offset
	keyUpdate   = "tg:upd:"      // + update id: "done" or the handling instance's token
	keyCallback = "tg:cb:"       // + token: a callback payload longer than 64 bytes
	keyLang     = "tg:lang:"     // + user id: language chosen with /lang
	keySent     = "tg:sent:"     // + Outbound.Key: idempotent sends
	keyStats    = "tg:stats"     // hash of counters
	throttlePfx = "throttle:"    // throttle keys: buckets "tg" and "tg:chat:<id>"
	bucketAll   = "tg"           // the bot-wide bucket, paused on 429
	bucketChat  = "tg:chat:"     // + chat id
	updateTTL   = 48 * time.Hour // Telegram keeps undelivered updates 24 h
	claimTTL    = 10 * time.Minute
	callbackTTL = 90 * 24 * time.Hour
	sentTTL     = 7 * 24 * time.Hour
	sendingTTL  = 2 * time.Minute
)

// New builds the channel without touching the network, so start-up and tests are fast; Run talks
// to Telegram. rdb, core and cat are required; stops may be nil (no opt-out bookkeeping).
func New(cfg Config, rdb redis.UniversalClient, core Handler, stops Stops, cat *i18n.Catalog, log *slog.Logger) (*Bot, error) {
	var errs []error
	if cfg.Token == "" || !strings.Contains(cfg.Token, ":") {
		errs = append(errs, errors.New("token missing or not like 123456:ABC..."))
	}
	if cfg.APIURL == "" {
		cfg.APIURL = "https://api.telegram.org"
	}
	cfg.APIURL = strings.TrimRight(cfg.APIURL, "/")
	if u, err := url.Parse(cfg.APIURL); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		errs = append(errs, fmt.Errorf("API URL %q is not an http(s) URL", cfg.APIURL))
	}
	if cfg.WebhookURL != "" {
		if u, err := url.Parse(cfg.WebhookURL); err != nil || u.Scheme != "https" || u.Host == "" {
			errs = append(errs, errors.New("webhook URL must be an https URL"))
		}
		if cfg.WebhookSecret == "" {
			errs = append(errs, errors.New("webhook secret required with a webhook URL"))
		}
	}
	if rdb == nil {
		errs = append(errs, errors.New("redis client is nil"))
	}
	if core == nil {
		errs = append(errs, errors.New("handler is nil"))
	}
	if cat == nil {
		errs = append(errs, errors.New("catalog is nil"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("telegram: %w", err)
	}
	if cfg.MPS <= 0 {
		cfg.MPS = 30
	}
	if i18n.Lang(cfg.DefaultLang) == "" {
		cfg.DefaultLang = i18n.Langs[0]
	}
	if cfg.PollTimeout <= 0 {
		cfg.PollTimeout = 25 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	base := &tgbotapi.BotAPI{Token: cfg.Token, Client: hc, Buffer: 100}
	base.SetAPIEndpoint(cfg.APIURL + "/bot%s/%s")
	b := &Bot{
		cfg: cfg, rdb: rdb, core: core, stops: stops, cat: cat,
		log:      log,
		lim:      throttle.New(rdb, throttlePfx),
		base:     base,
		doer:     hc,
		staff:    map[int64]bool{},
		staffCmd: map[string]StaffCommand{},
		global:   throttle.Bucket{Name: bucketAll, Limit: throttle.Window(cfg.MPS)},
		chatLim:  throttle.Per(1, time.Second),

		backoffBase: 500 * time.Millisecond,
		backoffMax:  10 * time.Second,
		maxAttempts: 6,
	}
	b.username.Store("")
	for _, id := range cfg.StaffIDs {
		b.staff[id] = true
	}
	b.staffCmd["stats"] = b.statsCommand
	return b, nil
}

// SetStaffCommand makes /name available to staff (Config.StaffIDs) only; for anyone else the
// text goes to the core like any message. A nil fn removes the command. /stats is built in and
// may be replaced. Call it before Run so the command is registered with Telegram.
func (b *Bot) SetStaffCommand(name string, fn StaffCommand) {
	name = strings.ToLower(strings.TrimPrefix(name, "/"))
	b.mu.Lock()
	defer b.mu.Unlock()
	if fn == nil {
		delete(b.staffCmd, name)
		return
	}
	b.staffCmd[name] = fn
}

// SetStaffReply makes a staff member's reply to a bot message go to fn (cases: replying to a
// case's message answers the citizen).
func (b *Bot) SetStaffReply(fn StaffReply) {
	b.mu.Lock()
	b.staffReply = fn
	b.mu.Unlock()
}

// SetStats adds figures from other packages to /stats.
func (b *Bot) SetStats(s Stats) {
	b.mu.Lock()
	b.stats = s
	b.mu.Unlock()
}

// Run connects to Telegram and receives updates until ctx ends, then returns nil. In polling mode
// it removes any webhook and polls getUpdates; in webhook mode it calls setWebhook and waits (the
// updates arrive at WebhookHandler). It registers the command menus either way. It returns an
// error only when Telegram refuses the token.
func (b *Bot) Run(ctx context.Context) error {
	if err := b.connect(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	if err := b.RegisterCommands(ctx); err != nil && ctx.Err() == nil {
		b.log.Warn("telegram: command menus not registered", "err", err)
	}
	if b.cfg.WebhookURL != "" {
		b.log.Info("telegram: receiving updates by webhook", "bot", b.username.Load())
		<-ctx.Done()
		return nil
	}
	b.log.Info("telegram: receiving updates by long polling", "bot", b.username.Load())
	b.poll(ctx)
	return nil
}

// connect calls getMe, then deleteWebhook (polling) or setWebhook (webhook), retrying network
// errors with backoff until ctx ends.
func (b *Bot) connect(ctx context.Context) error {
	steps := []func(context.Context) error{b.getMe, b.setupWebhook}
	for _, step := range steps {
		for attempt := 0; ; attempt++ {
			err := step(ctx)
			if err == nil {
				break
			}
			se := classify(err)
			if se.Kind == gateway.Final || se.Kind == gateway.Stopped {
				return fmt.Errorf("telegram: %w", err)
			}
			wait := b.backoff(attempt, se.RetryAfter)
			b.log.Warn("telegram: cannot reach the Bot API, retrying", "err", se, "wait", wait)
			if !sleep(ctx, wait) {
				return ctx.Err()
			}
		}
	}
	return nil
}

func (b *Bot) getMe(ctx context.Context) error {
	me, err := b.api(ctx, 30*time.Second).GetMe()
	if err != nil {
		return err
	}
	b.username.Store(me.UserName)
	return nil
}

// allowedUpdates are the only update kinds requested: messages, button presses, and the bot's own
// membership changes (a user blocking the bot).
var allowedUpdates = []string{"message", "callback_query", "my_chat_member"}

func (b *Bot) setupWebhook(ctx context.Context) error {
	api := b.api(ctx, 30*time.Second)
	if b.cfg.WebhookURL == "" {
		_, err := api.Request(tgbotapi.DeleteWebhookConfig{})
		return err
	}
	params := tgbotapi.Params{"url": b.cfg.WebhookURL, "secret_token": b.cfg.WebhookSecret, "max_connections": "40"}
	if err := params.AddInterface("allowed_updates", allowedUpdates); err != nil {
		return err
	}
	_, err := api.MakeRequest("setWebhook", params)
	return err
}

// commandOrder is the order of the command menu.
var commandOrder = []string{"start", "menu", "help", "lang", "status", "complaint", "subscribe", "stop"}

// RegisterCommands sets the command menu (setMyCommands) for Vietnamese and English clients and
// the default (DefaultLang), plus, for each staff member's private chat, the staff commands.
// A staff member who never opened the bot cannot get a chat menu; that is logged, not an error.
func (b *Bot) RegisterCommands(ctx context.Context) error {
	api := b.api(ctx, 30*time.Second)
	list := func(lang string, names []string) []tgbotapi.BotCommand {
		var out []tgbotapi.BotCommand
		for _, n := range names {
			out = append(out, tgbotapi.BotCommand{Command: n, Description: b.cat.T(lang, "telegram.commands."+n)})
		}
		return out
	}
	def := tgbotapi.NewBotCommandScopeDefault()
	calls := []tgbotapi.SetMyCommandsConfig{
		tgbotapi.NewSetMyCommandsWithScope(def, list(b.cfg.DefaultLang, commandOrder)...),
	}
	for _, lang := range i18n.Langs {
		calls = append(calls, tgbotapi.NewSetMyCommandsWithScopeAndLanguage(def, lang, list(lang, commandOrder)...))
	}
	for _, c := range calls {
		if _, err := api.Request(c); err != nil {
			return fmt.Errorf("setMyCommands %s: %w", c.LanguageCode, err)
		}
	}
	b.mu.RLock()
	staffNames := append([]string(nil), commandOrder...)
	for _, n := range []string{"stats", "broadcast", "cases", "case"} {
		if _, ok := b.staffCmd[n]; ok {
			staffNames = append(staffNames, n)
		}
	}
	b.mu.RUnlock()
	for id := range b.staff {
		scope := tgbotapi.NewBotCommandScopeChat(id)
		for _, lang := range append([]string{""}, i18n.Langs...) {
			l := lang
			if l == "" {
				l = b.cfg.DefaultLang
			}
			if _, err := api.Request(tgbotapi.NewSetMyCommandsWithScopeAndLanguage(scope, lang, list(l, staffNames)...)); err != nil {
				b.log.Warn("telegram: staff command menu not set (has the staff member opened the bot?)", "staff", maskID(id), "err", err)
				break
			}
		}
	}
	return nil
}

// backoff is the wait before retry number attempt (0-based): retryAfter when Telegram gave one,
// else exponential from backoffBase, capped at backoffMax, with jitter.
func (b *Bot) backoff(attempt int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return retryAfter
	}
	d := b.backoffBase << min(attempt, 16)
	if d <= 0 || d > b.backoffMax {
		d = b.backoffMax
	}
	// ±20% jitter so replicas do not retry in step.
	j := time.Duration(time.Now().UnixNano() % int64(d/5+1))
	return d - d/10 + j
}

// sleep waits d or until ctx ends; it reports whether the wait completed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

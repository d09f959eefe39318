// Package zalo is the Zalo Official Account (OA) channel: Zalo posts the OA's events to
// POST /zalo/webhook, the conversation core answers, and the answers go back through the OA API
// as customer-service ("tư vấn") messages; broadcasts, case answers and notifications use the
// same sender (Send), and outside the reply window ZNS template messages where configured.
//
// Inbound: a request is accepted only with a valid X-ZEvent-Signature
// (mac = sha256(app_id + raw body + timestamp + OA secret key), plain SHA-256, not HMAC), at most
// 1 MiB; each event is written to a Redis stream (one of 16 shards chosen by user, so one user's
// events stay in order) and answered 200 at once — Zalo wants its answer within 2 seconds and
// retries otherwise. A msg_id is queued once. Workers in every replica take turns on the shards
// (a lease per shard), handle each event, and delete it only then: a process that stops or dies
// leaves its events in Redis for the next one, and the replies' idempotency keys keep a redone
// event from sending a part twice.
//
// Outbound: Zalo lets an OA answer a user freely for 48 hours after the user's last message, up
// to 8 messages (the count starts again at each message from the user). The channel tracks that
// window per user in Redis; a message outside it is sent as a ZNS template when one is
// configured for its kind and the user's phone is known, and otherwise refused with the reason
// "outside_reply_window", which broadcast reports show. Sends share a Redis rate limit
// (ZALO_MPS) across replicas; Zalo's -32 ("too many requests") pauses every sender and is
// retried.
//
// Tokens: the OA access token lasts about 25 hours and its refresh token works once. They live
// in Redis; one replica at a time refreshes (a lock), before expiry and on -216, storing the new
// refresh token before the old one is forgotten (token.go). A failed refresh is logged loudly and
// shown by Status (/readyz).
package zalo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/internal/spool"
	"github.com/socialaid-vn/gateway/throttle"
)

// Config configures the channel (environment: ZALO_*).
type Config struct {
	// AppID and AppSecret are the Zalo app's (developers.zalo.me → the app → Thông tin ứng dụng).
	AppID, AppSecret string
	// OASecretKey is the OA's secret key that signs webhooks (the app → Webhook → "OA Secret
	// Key"); not the app secret.
	OASecretKey string
	// RefreshToken is the first refresh token, from authorising the OA; later ones live in Redis.
	RefreshToken string
	// APIURL, OAuthURL and ZNSURL are the base URLs of the OA API (https://openapi.zalo.me), the
	// token endpoint (https://oauth.zaloapp.com) and ZNS (https://business.openapi.zalo.me).
	APIURL, OAuthURL, ZNSURL string
	// MPS is the rate of API calls per second shared by all replicas (default 10).
	MPS int
	// ZNSTemplates maps a message kind (Reply.Intent: "notification", "reminder") to an approved
	// ZNS template id, used outside the reply window when the user's phone is known.
	ZNSTemplates map[string]string
	// DefaultLang is the language of the channel's own texts for people whose language is
	// unknown ("vi" if empty).
	DefaultLang string
	// HTTPClient makes every Zalo call (optional).
	HTTPClient *http.Client
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// Handler is the conversation core.
type Handler interface {
	Handle(ctx context.Context, in gateway.Inbound) ([]gateway.Reply, error)
}

// Stops records who must not get bulk messages (package audience): unfollow stops a user,
// follow resumes them.
type Stops interface {
	Stop(ctx context.Context, ch gateway.Channel, id, reason string) error
	Resume(ctx context.Context, ch gateway.Channel, id string) error
	Stopped(ctx context.Context, ch gateway.Channel, id string) (bool, error)
}

// Channel is the Zalo OA channel. It is safe for concurrent use; its state is in Redis.
type Channel struct {
	cfg    Config
	rdb    redis.UniversalClient
	core   Handler
	stops  Stops
	cat    *i18n.Catalog
	log    *slog.Logger
	hc     *http.Client
	tok    *tokens
	lim    *throttle.Limiter
	bucket throttle.Bucket
	now    func() time.Time
	owner  string // this channel's name in shard leases

	wake [shards]chan struct{} // a local enqueue wakes the shard's worker at once
	// spool keeps webhook events while Redis cannot queue them (webhook.go).
	spool *spool.Spool

	// Tunables; tests shorten them.
	poll        time.Duration // how often a held shard looks for events it was not woken for
	leaseTTL    time.Duration
	grace       time.Duration // how long an event in hand may finish after Run's ctx ends
	attempts    int           // tries of one API call on -32 and retryable failures
	backoff     time.Duration // first wait between those tries
	eventTries  int           // tries of one inbound event before it is dropped (logged): about 4 minutes
	eventBackof time.Duration
}

// New builds the channel without touching the network. rdb, core and cat are required; stops may
// be nil (no follow/unfollow bookkeeping).
func New(cfg Config, rdb redis.UniversalClient, core Handler, stops Stops, cat *i18n.Catalog, log *slog.Logger) (*Channel, error) {
	var errs []error
	if cfg.AppID == "" || cfg.AppSecret == "" || cfg.OASecretKey == "" {
		errs = append(errs, errors.New("app id, app secret and OA secret key are required"))
	}
	if cfg.RefreshToken == "" {
		errs = append(errs, errors.New("refresh token required"))
	}
	def := func(v *string, d, name string) {
		*v = strings.TrimRight(*v, "/")
		if *v == "" {
			*v = d
		}
		if u, err := url.Parse(*v); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			errs = append(errs, fmt.Errorf("%s %q is not an http(s) URL", name, *v))
		}
	}
	def(&cfg.APIURL, "https://openapi.zalo.me", "API URL")
	def(&cfg.OAuthURL, "https://oauth.zaloapp.com", "OAuth URL")
	def(&cfg.ZNSURL, "https://business.openapi.zalo.me", "ZNS URL")
	if rdb == nil || core == nil || cat == nil {
		errs = append(errs, errors.New("redis client, core and catalog are required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("zalo: %w", err)
	}
	if cfg.MPS <= 0 {
		cfg.MPS = 10
	}
	if i18n.Lang(cfg.DefaultLang) == "" {
		cfg.DefaultLang = i18n.Langs[0]
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	c := &Channel{
		cfg: cfg, rdb: rdb, core: core, stops: stops, cat: cat, log: log, hc: hc, now: now, owner: newOwner(),
		lim:    throttle.New(rdb, "throttle:"),
		bucket: throttle.Bucket{Name: "zalo", Limit: throttle.Window(cfg.MPS)},

		poll: 250 * time.Millisecond, leaseTTL: 15 * time.Second, grace: 5 * time.Second,
		attempts: 4, backoff: 500 * time.Millisecond, eventTries: 10, eventBackof: time.Second,
	}
	tok, err := newTokens(rdb, hc, cfg.OAuthURL, cfg.AppID, cfg.AppSecret, cfg.RefreshToken, log)
	if err != nil {
		return nil, fmt.Errorf("zalo: token store: %w", err)
	}
	c.tok = tok
	c.tok.now = now
	c.spool = spool.New(SpoolEvents, SpoolBytes)
	for i := range c.wake {
		c.wake[i] = make(chan struct{}, 1)
	}
	return c, nil
}

// Run handles queued events and keeps the access token fresh until ctx ends; then it lets the
// event in hand finish (within a few seconds), gives its shards back and returns nil.
func (c *Channel) Run(ctx context.Context) error {
	if err := c.tok.seed(ctx); err != nil && ctx.Err() == nil {
		c.log.Error("zalo: token store unavailable at start; retrying in the background", "err", err)
	}
	var wg sync.WaitGroup
	for i := 0; i < shards; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); c.shardLoop(ctx, i) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); c.refresher(ctx) }()
	wg.Add(1)
	go func() { defer wg.Done(); c.replaySpool(ctx) }()
	c.log.Info("zalo: receiving events at /zalo/webhook", "shards", shards)
	wg.Wait()
	return nil
}

// refresher refreshes the access token ahead of its expiry (one replica at a time does it; the
// others find it done).
func (c *Channel) refresher(ctx context.Context) {
	for {
		if err := c.tok.refreshDue(ctx); err != nil && ctx.Err() == nil && !errors.Is(err, ErrToken) {
			c.log.Warn("zalo: token check failed", "err", err)
		}
		if !sleep(ctx, 30*time.Second) {
			return
		}
	}
}

// Status is one line for /readyz: the token state, loud when a refresh failed. ok is false then.
func (c *Channel) Status(ctx context.Context) (line string, ok bool) {
	return c.tok.status(ctx)
}

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

// maskID hides the middle of a Zalo user id for logs.
func maskID(id string) string { return gateway.Mask(id) }

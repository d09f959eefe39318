// Package webchat is the web chat channel: a chat page for citizens on the department's portal
// (GET /), an embeddable widget (<script src=".../webchat.js">) and its JSON API. It follows the
// channel contract like bot/ and sms/: a message posted to POST /webchat/api/messages becomes a
// gateway.Inbound for the conversation core, and the core's []gateway.Reply is rendered as JSON
// {"replies":[{"text","choices":[{"label","payload"}]}]}. Messages nobody asked for at that moment
// (broadcasts, status-change notifications, staff answers to cases) go through Send, the
// channel's gateway.Sender, and reach the browser as Server-Sent Events on GET
// /webchat/api/events.
//
// A person is identified by a session cookie (HttpOnly, random, no login). The conversation core
// and audiences see only a sender id derived from it by SHA-256, so nothing in Redis can be
// replayed as the cookie. Every pushed message is appended to the session's Redis stream (kept
// for Config.Keep, at most MaxQueued messages) before anything else: a session that is not
// connected right now gets it on its next connection, from any replica, and a reconnecting
// EventSource resumes after the last event it saw (Last-Event-ID). A PUBLISH on one Redis channel
// wakes the replica that holds the connection; a slow poll covers a lost notification. A message
// for a session that has expired is refused with a Stopped send error ("session_expired"), so a
// broadcast counts it and the audience drops the subscription instead of losing it silently.
//
// Limits: request bodies of at most MaxBody bytes and texts of MaxText characters; a shared rate
// per session and per client address (throttle/, so every replica counts together); at most
// MaxStreams event streams per session in one replica.
package webchat

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/redisconn"
	"github.com/socialaid-vn/gateway/throttle"
)

// Handler is the conversation core: it answers one inbound message.
type Handler interface {
	Handle(ctx context.Context, in gateway.Inbound) ([]gateway.Reply, error)
}

// Stops is the consent state of recipients (package audience): a session that writes again
// after its stop mark ("session_expired" on a send) is resumed.
type Stops interface {
	Resume(ctx context.Context, ch gateway.Channel, id string) error
}

// Config configures the channel. Zero values take the defaults noted.
type Config struct {
	// Origins are the other sites allowed to embed the chat (WEBCHAT_ORIGINS), as
	// "https://portal.example.gov.vn". Their pages may call the API with credentials (CORS), and
	// the session cookie they get is SameSite=None; Secure; Partitioned.
	Origins []string
	// Secure marks cookies Secure (the gateway is served over https: PUBLIC_BASE_URL).
	Secure bool
	// Catalog holds the page's texts (i18n/*/webchat.toml). Required.
	Catalog *i18n.Catalog
	// DefaultLang is the page's language when the person has not chosen one (default vi).
	DefaultLang string
	// Keep is how long a pushed message waits for the session to connect (default 7 days).
	Keep time.Duration
	// SessionTTL is how long a session lives after its last message (default 180 days).
	SessionTTL time.Duration
	// SessionRate and AddressRate limit the messages one session and one client address may post
	// (defaults: 20 at once then one each 3 s; 120 at once then 2 a second).
	SessionRate, AddressRate throttle.Limit
	// MPS is the rate of pushed messages for all replicas together (default 500).
	MPS int
	// Poll is how often a connected stream looks for messages whose notification was lost, and
	// sends a keep-alive comment (default 15 s).
	Poll time.Duration
	// StreamMax is the longest one event stream stays open before the browser is asked to
	// reconnect, so load balancers can rebalance (default 30 min).
	StreamMax time.Duration
}

// Limits of the API.
const (
	MaxBody    = 8 << 10 // bytes of one POST body
	MaxText    = 1000    // characters of one message
	MaxQueued  = 200     // messages kept for one session
	MaxStreams = 4       // event streams of one session in one replica
)

// Channel is the web chat: page, API, event streams and sender. It is safe for concurrent use.
type Channel struct {
	cfg     Config
	rdb     redis.UniversalClient
	core    Handler
	stops   Stops
	cat     *i18n.Catalog
	log     *slog.Logger
	limiter *throttle.Limiter
	origins map[string]bool
	cop     *http.CrossOriginProtection
	script  []byte // webchat.js with the texts inlined

	closing   chan struct{} // closed by Shutdown: every event stream ends
	closeOnce sync.Once

	mu      sync.Mutex
	waiters map[string]map[chan struct{}]bool // sender id → connected streams
	locks   [64]sync.Mutex                    // one message of a session at a time
}

// Redis keys.
const (
	keySession = "wc:s:"   // + sender id → hash created, seen, acked
	keyEvents  = "wc:ev:"  // + sender id → stream of pushed messages
	keySent    = "wc:k:"   // + Outbound.Key → "1" (a message already pushed)
	notifyChan = "wc:push" // PUBLISH sender id: a message was pushed
	cookieName = "gw_chat"
	sentTTL    = 7 * 24 * time.Hour
)

// New builds the channel. rdb, core and cfg.Catalog are required; stops and log may be nil.
func New(cfg Config, rdb redis.UniversalClient, core Handler, stops Stops, log *slog.Logger) (*Channel, error) {
	if rdb == nil || core == nil || cfg.Catalog == nil {
		return nil, errors.New("webchat: redis client, conversation core and catalog required")
	}
	if cfg.DefaultLang == "" {
		cfg.DefaultLang = i18n.Langs[0]
	}
	if cfg.Keep <= 0 {
		cfg.Keep = 7 * 24 * time.Hour
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 180 * 24 * time.Hour
	}
	if cfg.SessionRate.Rate <= 0 {
		cfg.SessionRate = throttle.Limit{Rate: 1.0 / 3, Burst: 20}
	}
	if cfg.AddressRate.Rate <= 0 {
		cfg.AddressRate = throttle.Limit{Rate: 2, Burst: 120}
	}
	if cfg.MPS <= 0 {
		cfg.MPS = 500
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 15 * time.Second
	}
	if cfg.StreamMax <= 0 {
		cfg.StreamMax = 30 * time.Minute
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Channel{
		cfg: cfg, rdb: rdb, core: core, stops: stops, cat: cfg.Catalog, log: log,
		limiter: throttle.New(rdb, "throttle:"),
		origins: map[string]bool{},
		cop:     http.NewCrossOriginProtection(),
		waiters: map[string]map[chan struct{}]bool{},
		closing: make(chan struct{}),
	}
	for _, o := range cfg.Origins {
		o, err := NormalizeOrigin(o)
		if err != nil {
			return nil, fmt.Errorf("webchat: WEBCHAT_ORIGINS: %w", err)
		}
		c.origins[o] = true
		if err := c.cop.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("webchat: WEBCHAT_ORIGINS: %w", err)
		}
	}
	script, err := c.buildScript()
	if err != nil {
		return nil, err
	}
	c.script = script
	return c, nil
}

// NormalizeOrigin checks an origin ("https://portal.example.gov.vn[:port]") and returns it in the
// form browsers send in the Origin header.
func NormalizeOrigin(o string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(o))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return "", fmt.Errorf("%q is not an origin like https://portal.example.gov.vn", o)
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

// session is one browser's chat session.
type session struct {
	token string // the cookie value
	id    string // the sender id derived from it
	isNew bool
}

// senderID derives the id the core and audiences know the session by.
func senderID(token string) string {
	h := sha256.Sum256([]byte("webchat:" + token))
	return "w" + hex.EncodeToString(h[:16])
}

// ValidSenderID reports whether id has the shape of a web chat sender id.
func ValidSenderID(id string) bool {
	if len(id) != 33 || id[0] != 'w' {
		return false
	}
	_, err := hex.DecodeString(id[1:])
	return err == nil
}

func validToken(t string) bool {
	if len(t) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(t)
	return err == nil
}

// session returns the request's session, making a new one (and setting its cookie) when the
// request has none or an unknown one.
func (c *Channel) session(w http.ResponseWriter, r *http.Request) (*session, error) {
	ctx := r.Context()
	if ck, err := r.Cookie(cookieName); err == nil && validToken(ck.Value) {
		s := &session{token: ck.Value, id: senderID(ck.Value)}
		n, err := c.rdb.Exists(ctx, keySession+s.id).Result()
		if err != nil {
			if redisconn.Unavailable(err) {
				return s, nil // Redis is gone: the cookie's session, unchecked (degraded answers)
			}
			return nil, err
		}
		if n == 1 {
			return s, c.touch(ctx, s, w, r)
		}
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	tok := base64.RawURLEncoding.EncodeToString(b)
	s := &session{token: tok, id: senderID(tok), isNew: true}
	now := time.Now().Unix()
	pipe := c.rdb.TxPipeline()
	pipe.HSet(ctx, keySession+s.id, "created", now, "seen", now)
	pipe.Expire(ctx, keySession+s.id, c.cfg.SessionTTL)
	if _, err := pipe.Exec(ctx); err != nil {
		if !redisconn.Unavailable(err) {
			return nil, err
		}
		// Redis is gone: the cookie is set all the same; the session is stored once Redis is back.
	}
	c.setCookie(w, r, s)
	return s, nil
}

// touch keeps an active session (and its cookie) alive for SessionTTL, at most once an hour.
func (c *Channel) touch(ctx context.Context, s *session, w http.ResponseWriter, r *http.Request) error {
	seen, err := c.rdb.HGet(ctx, keySession+s.id, "seen").Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	if time.Since(time.Unix(seen, 0)) < time.Hour {
		return nil
	}
	pipe := c.rdb.Pipeline()
	pipe.HSet(ctx, keySession+s.id, "seen", time.Now().Unix())
	pipe.Expire(ctx, keySession+s.id, c.cfg.SessionTTL)
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	c.setCookie(w, r, s)
	return nil
}

// setCookie writes the session cookie. On the gateway's own pages it is SameSite=Lax. For a
// request from an allowed embedding origin the cookie must travel in cross-site requests, which
// browsers allow only for SameSite=None; Secure; Partitioned keys it to the embedding site, so
// it still works where third-party cookies are blocked (and cannot track people across sites).
func (c *Channel) setCookie(w http.ResponseWriter, r *http.Request, s *session) {
	ck := &http.Cookie{
		Name: cookieName, Value: s.token, Path: "/", MaxAge: int(c.cfg.SessionTTL.Seconds()),
		HttpOnly: true, Secure: c.cfg.Secure, SameSite: http.SameSiteLaxMode,
	}
	if c.embedded(r) {
		ck.SameSite, ck.Secure, ck.Partitioned = http.SameSiteNoneMode, true, true
	}
	http.SetCookie(w, ck)
}

// embedded reports whether r comes from an allowed embedding origin (not the gateway itself).
func (c *Channel) embedded(r *http.Request) bool {
	o := strings.ToLower(r.Header.Get("Origin"))
	return o != "" && c.origins[o] && !sameHost(o, r.Host)
}

func sameHost(origin, host string) bool {
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, host)
}

// clientAddr is the address rate limits count by: the peer's IP (a reverse proxy in front must
// be given its own limits; X-Forwarded-For is not trusted).
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		// Count an IPv6 client by its /64, which one household or phone usually holds.
		return ip.Mask(net.CIDRMask(64, 128)).String()
	}
	return host
}

func (c *Channel) lock(id string) *sync.Mutex {
	h := sha256.Sum256([]byte(id))
	return &c.locks[int(h[0])%len(c.locks)]
}

// Package sms is the SMS channel through Twilio, for people with a basic phone and no internet:
// the inbound webhook (POST /sms/twilio), the delivery-status callback (POST /sms/twilio/status)
// and the outbound sender used for broadcasts and notifications.
//
// An inbound SMS goes through one function, Channel.Reply, whether it came from Twilio or from
// `gateway chat --channel sms`: the keyword grammar (ParseKeyword: "TT TB-2025-000123 4567",
// "LICH Vu Phuc", "HUY", ...) sets the intent when the message is a command, the conversation core
// answers (Handler), and Render writes the answer for SMS: without diacritics in GSM-7 and within
// the segment budget (Segments counts them as GSM 03.38 does), unless SMS_UNICODE is set.
//
// Twilio's requests are accepted only with a valid X-Twilio-Signature computed over
// PUBLIC_BASE_URL + the request URI, so a forged request changes nothing. A message Twilio
// delivers twice (same MessageSid) is answered from the first run's reply. Outbound sends share
// one rate limit across replicas (throttle/), retry only what provably was not accepted, never
// resend after a timeout, and refuse numbers that opted out.
package sms

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	twclient "github.com/twilio/twilio-go/client"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/data"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/metrics"
	"github.com/socialaid-vn/gateway/throttle"
)

// Handler is the conversation core as the SMS channel uses it: it answers one inbound message.
// Conversation state is the core's, keyed by (gateway.SMS, phone number in E.164).
type Handler interface {
	Handle(ctx context.Context, in gateway.Inbound) ([]gateway.Reply, error)
}

// OptOuts is the consent state of recipients (package audience). The channel calls Stop when
// Twilio reports an opt-out (OptOutType STOP on an inbound message, error 21610 on a send or in a
// status callback) and Resume on OptOutType START; Send refuses numbers that are Stopped.
type OptOuts interface {
	Stop(ctx context.Context, ch gateway.Channel, id, reason string) error
	Resume(ctx context.Context, ch gateway.Channel, id string) error
	Stopped(ctx context.Context, ch gateway.Channel, id string) (bool, error)
}

// Config configures the channel (environment: TWILIO_*, SMS_*, PUBLIC_BASE_URL).
type Config struct {
	// AccountSID and AuthToken are the Twilio credentials. Both empty makes a channel for
	// `gateway chat` only: Reply works, Send fails and both webhooks refuse every request (503).
	AccountSID, AuthToken string
	// From (E.164) or MessagingServiceSID (MG...) is the sender of outbound messages; one is
	// required with credentials. MessagingServiceSID wins when both are set.
	From, MessagingServiceSID string
	// APIURL is the Twilio REST base URL ("" = https://api.twilio.com).
	APIURL string
	// PublicBaseURL is the externally visible base URL of this service. Signatures are checked
	// against PublicBaseURL + request URI (behind a proxy, this is what Twilio called, not what
	// the server sees), and the status callback URL is built from it. Required with credentials.
	PublicBaseURL string
	// MaxSegments is the reply budget (0 = DefaultMaxSegments, at most MaxSegmentsLimit).
	MaxSegments int
	// Unicode keeps diacritics (UCS-2 segments).
	Unicode bool
	// MPS is the outbound rate in messages per second shared by all replicas (0 = 10).
	MPS int

	// Catalog holds the channel's own texts (sms.toml); nil loads the embedded catalog.
	Catalog *i18n.Catalog
	// Lang is the language of the channel's own texts when the person's is unknown ("" = vi).
	Lang string
	// OnStatus, when set, is called after each delivery status is recorded (broadcast reports).
	// It runs in the status webhook's request: keep it short.
	OnStatus func(sid, status, errorCode string)
}

// Channel is the SMS adapter: inbound webhook, status callback, outbound sender. It is safe for
// concurrent use; all its state is in Redis, so replicas share it.
type Channel struct {
	cfg      Config
	rdb      redis.UniversalClient
	core     Handler
	optouts  OptOuts
	communes []string
	log      *slog.Logger
	cat      *i18n.Catalog
	limiter  *throttle.Limiter

	validator *twclient.RequestValidator // nil: webhooks refused
	apiURL    string
	render    RenderOptions

	// Tunables, fixed in New; tests shorten them.
	httpTimeout time.Duration // one CreateMessage call
	attempts    int           // CreateMessage tries for errors proving non-acceptance
	backoff     time.Duration // first wait between tries, doubled each time
	maxBackoff  time.Duration // longest wait between tries inside Send
	transport   http.RoundTripper
}

// Redis keys and lifetimes.
const (
	keyInbound  = "sms:in:"  // MessageSid → reply already given (idempotent webhook)
	keyMessage  = "sms:msg:" // outbound MessageSid → hash status, error_code, updated, key
	keyOutbound = "sms:out:" // Outbound.Key → MessageSid, or "pending" while the outcome is unknown

	inboundTTL  = 24 * time.Hour
	deliveryTTL = 30 * 24 * time.Hour
	outboundTTL = 7 * 24 * time.Hour
	// claimTTL bounds how long a MessageSid stays claimed while its reply is computed (should a
	// replica die mid-way, a later retry is processed afresh).
	claimTTL = 2 * time.Minute
	// claimWait is how long a duplicate delivery of a MessageSid waits for the first run's reply.
	claimWait = 10 * time.Second
)

// New builds the channel. core and rdb are required; optouts is required when credentials are
// set. log may be nil (nothing is logged). communes are the canonical commune names keywords are
// matched against.
func New(cfg Config, rdb redis.UniversalClient, core Handler, optouts OptOuts, communes []string, log *slog.Logger) (*Channel, error) {
	if rdb == nil {
		return nil, errors.New("sms: redis client required")
	}
	if core == nil {
		return nil, errors.New("sms: conversation core required")
	}
	if cfg.MaxSegments < 0 || cfg.MaxSegments > MaxSegmentsLimit {
		return nil, fmt.Errorf("sms: SMS_MAX_SEGMENTS must be 1-%d, not %d", MaxSegmentsLimit, cfg.MaxSegments)
	}
	if cfg.MPS < 0 {
		return nil, fmt.Errorf("sms: SMS_MPS must be positive, not %d", cfg.MPS)
	}
	if cfg.MPS == 0 {
		cfg.MPS = 10
	}
	if cfg.Lang == "" {
		cfg.Lang = i18n.Langs[0]
	}
	cfg.PublicBaseURL = strings.TrimRight(cfg.PublicBaseURL, "/")
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c := &Channel{
		cfg: cfg, rdb: rdb, core: core, optouts: optouts, communes: communes, log: log,
		cat:         cfg.Catalog,
		limiter:     throttle.New(rdb, "throttle:"),
		apiURL:      strings.TrimRight(cfg.APIURL, "/"),
		render:      RenderOptions{MaxSegments: cfg.MaxSegments, Unicode: cfg.Unicode},
		httpTimeout: 15 * time.Second,
		attempts:    3,
		backoff:     500 * time.Millisecond,
		maxBackoff:  10 * time.Second,
		transport:   http.DefaultTransport,
	}
	if c.apiURL == "" {
		c.apiURL = twilioAPI
	}
	if u, err := url.Parse(c.apiURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("sms: TWILIO_API_URL must be an http(s) URL, not %q", cfg.APIURL)
	}
	if c.cat == nil {
		cat, err := i18n.LoadCatalog(data.Embedded())
		if err != nil {
			return nil, fmt.Errorf("sms: %w", err)
		}
		c.cat = cat
	}
	switch {
	case cfg.AccountSID == "" && cfg.AuthToken == "":
		return c, nil // chat only
	case cfg.AccountSID == "" || cfg.AuthToken == "":
		return nil, errors.New("sms: TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN go together")
	case cfg.From == "" && cfg.MessagingServiceSID == "":
		return nil, errors.New("sms: TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID required")
	case cfg.PublicBaseURL == "":
		return nil, errors.New("sms: PUBLIC_BASE_URL required to check Twilio signatures")
	case optouts == nil:
		return nil, errors.New("sms: opt-out store required")
	}
	if cfg.From != "" && cfg.MessagingServiceSID == "" {
		from, err := NormalizePhone(cfg.From)
		if err != nil {
			return nil, fmt.Errorf("sms: TWILIO_FROM: %w", err)
		}
		c.cfg.From = from
	}
	v := twclient.NewRequestValidator(cfg.AuthToken)
	c.validator = &v
	return c, nil
}

// ErrDuplicate is returned by Reply when the same MessageSid is being answered by another request
// right now (Twilio delivered it twice at once) and no reply was ready within a few seconds; the
// first request gives the reply.
var ErrDuplicate = errors.New("sms: message already being answered")

// Reply runs one inbound SMS through the keyword grammar, the conversation core and the renderer,
// and returns the SMS text to answer with ("" means no answer). The webhook and `gateway chat
// --channel sms` both use it, so they answer alike.
//
// from is normalised to E.164 (an invalid number is ErrPhone). When messageSID is not empty the
// answer is remembered for a day under it: the same MessageSid again gets the same text without
// the core running twice. When the core fails the error is returned and nothing is remembered, so
// a retry is processed afresh.
func (c *Channel) Reply(ctx context.Context, from, body, messageSID string) (string, error) {
	start := time.Now()
	phone, err := NormalizePhone(from)
	if err != nil {
		return "", err
	}
	var claimKey string
	if messageSID != "" {
		claimKey = keyInbound + messageSID
		claimed, err := c.rdb.SetNX(ctx, claimKey, "", claimTTL).Result()
		if err != nil {
			return "", fmt.Errorf("sms: idempotency: %w", err)
		}
		if !claimed {
			text, err := c.awaitReply(ctx, claimKey)
			c.log.Info("sms inbound duplicate", "from", MaskPhone(phone), "sid", messageSID, "replayed", err == nil)
			return text, err
		}
	}
	intent, ent, _ := ParseKeyword(body, c.communes)
	in := gateway.Inbound{
		Channel:   gateway.SMS,
		SenderID:  phone,
		Text:      body,
		Intent:    intent,
		Entities:  ent,
		MessageID: messageSID,
		Received:  start,
	}
	replies, err := c.core.Handle(ctx, in)
	if err != nil {
		if claimKey != "" {
			c.rdb.Del(context.WithoutCancel(ctx), claimKey)
		}
		c.log.Error("sms inbound failed", "from", MaskPhone(phone), "sid", messageSID, "intent", intent, "err", err)
		return "", fmt.Errorf("sms: core: %w", err)
	}
	text := Render(replies, c.render)
	if claimKey != "" {
		if err := c.rdb.Set(context.WithoutCancel(ctx), claimKey, "1"+text, inboundTTL).Err(); err != nil {
			c.log.Warn("sms inbound reply not remembered", "sid", messageSID, "err", err)
		}
	}
	if intent == "" && len(replies) > 0 {
		intent = replies[0].Intent
	}
	segs, enc := Segments(text)
	metrics.MessagesIn.WithLabelValues(string(gateway.SMS), labelOr(intent, "unknown")).Inc()
	metrics.ReplyLatency.WithLabelValues(string(gateway.SMS)).Observe(time.Since(start).Seconds())
	c.log.Info("sms inbound", "from", MaskPhone(phone), "sid", messageSID, "intent", intent, "segments", segs, "encoding", enc.String())
	return text, nil
}

// awaitReply waits for the reply another request is computing for the same MessageSid.
func (c *Channel) awaitReply(ctx context.Context, key string) (string, error) {
	deadline := time.Now().Add(claimWait)
	wait := 20 * time.Millisecond
	for {
		v, err := c.rdb.Get(ctx, key).Result()
		switch {
		case errors.Is(err, redis.Nil):
			return "", ErrDuplicate // the first run failed and released it
		case err != nil:
			return "", fmt.Errorf("sms: idempotency: %w", err)
		case v != "":
			return v[1:], nil
		}
		if time.Now().After(deadline) {
			return "", ErrDuplicate
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", ctx.Err()
		case <-t.C:
		}
		wait = min(wait*2, 500*time.Millisecond)
	}
}

func labelOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

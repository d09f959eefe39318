// Package sms is the SMS channel, for people with a basic phone and no internet. It is one piece
// of code whatever carries the messages: the keyword grammar (ParseKeyword: "TT TB-2025-000123
// 4567", "LICH Vu Phuc", "HUY", ...), the renderer (Render: without diacritics in GSM-7 and within
// the segment budget, Segments counting as GSM 03.38 does, unless SMS_UNICODE is set), consent
// (opted-out numbers get nothing), replay protection of inbound messages, the outbound rate limit
// SMS_MPS shared by every replica, the idempotency of outbound keys, and delivery records.
//
// The providers are transports below it, each a package of its own that knows only its
// provider's wire format: sms/twilio (Twilio's signed webhooks and REST API) and sms/kannel
// (Kannel's sms-service and sendsms HTTP interfaces, in front of a carrier's SMPP short code).
// A transport turns a provider's inbound payload into an Inbound and hands it to Receive (the
// reply goes back in the provider's answer, as TwiML does) or Answer (the reply is sent as a new
// message, as with Kannel); for outbound messages it implements Transport, one attempt at a time,
// and reports delivery results through RecordDelivery. Adding a transport touches neither this
// package nor the other transports.
//
// Every inbound SMS goes through Receive, whether it came from a provider or from `gateway chat
// --channel sms`, so they answer alike. Outbound sends (Send) retry only what provably was not
// accepted, refuse numbers that opted out, and never resend after a timeout — unless the
// transport's delivery reports later prove the provider never had the message (Settler).
package sms

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/data"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/redisconn"
	"github.com/socialaid-vn/gateway/throttle"
)

// Handler is the conversation core as the SMS channel uses it: it answers one inbound message.
// Conversation state is the core's, keyed by (gateway.SMS, phone number in E.164).
type Handler interface {
	Handle(ctx context.Context, in gateway.Inbound) ([]gateway.Reply, error)
}

// OptOuts is the consent state of recipients (package audience). The channel calls Stop when a
// transport reports an opt-out (Twilio's OptOutType STOP, error 21610) and Resume on an opt-in;
// Send refuses numbers that are Stopped.
type OptOuts interface {
	Stop(ctx context.Context, ch gateway.Channel, id, reason string) error
	Resume(ctx context.Context, ch gateway.Channel, id string) error
	Stopped(ctx context.Context, ch gateway.Channel, id string) (bool, error)
}

// Config configures the channel (environment: SMS_*).
type Config struct {
	// Outbound is the transport outbound messages go through (SMS_OUTBOUND). nil makes a
	// channel that can only answer inline (Receive, `gateway chat`): Send and Answer fail
	// with a Final "not_configured" error.
	Outbound Transport
	// MaxSegments is the reply budget (0 = DefaultMaxSegments, at most MaxSegmentsLimit).
	MaxSegments int
	// Unicode keeps diacritics (UCS-2 segments).
	Unicode bool
	// MPS is the outbound rate in messages per second shared by all replicas (0 = 10).
	MPS int
	// Retry tunes how Send retries errors that prove the provider did not take a message
	// (zero fields take the defaults of DefaultRetry).
	Retry Retry

	// Catalog holds the channel's own texts (sms.toml); nil loads the embedded catalog.
	Catalog *i18n.Catalog
	// Lang is the language of the channel's own texts when the person's is unknown ("" = vi).
	Lang string
	// OnStatus, when set, is called after each delivery status is recorded (broadcast reports).
	// It runs in the transport's callback request: keep it short.
	OnStatus func(id, status, errorCode string)
}

// Retry is how often and how long Send tries one message inside one call. Longer outages are
// the caller's to ride out (the broadcast workers retry Retryable errors for minutes).
type Retry struct {
	Attempts   int           // tries per Send (default 3)
	Backoff    time.Duration // first wait between tries, doubled each time (default 500ms)
	MaxBackoff time.Duration // longest wait between tries; a longer Retry-After is returned (default 10s)
}

// DefaultRetry is the retry policy of a zero Config.Retry.
var DefaultRetry = Retry{Attempts: 3, Backoff: 500 * time.Millisecond, MaxBackoff: 10 * time.Second}

// Channel is the SMS channel. It is safe for concurrent use; all its state is in Redis, so
// replicas share it.
type Channel struct {
	cfg      Config
	rdb      redis.UniversalClient
	core     Handler
	optouts  OptOuts
	communes []string
	log      *slog.Logger
	cat      *i18n.Catalog
	limiter  *throttle.Limiter
	render   RenderOptions
	retry    Retry
}

// Redis keys and lifetimes.
const (
	keyInbound  = "sms:in:"  // [transport ":"] message id → reply already given (idempotent inbound)
	keyMessage  = "sms:msg:" // outbound message id → hash status, error_code, updated, key
	keyOutbound = "sms:out:" // Outbound.Key → message id, or "pending", "in_doubt", "in_doubt:<id>"
	// keyConfirmed + transport → the submission time (Unix ms) of the newest message the
	// transport's reports confirmed the provider took (see Settler).
	keyConfirmed = "sms:confirmed:"

	inboundTTL  = 24 * time.Hour
	deliveryTTL = 30 * 24 * time.Hour
	outboundTTL = 7 * 24 * time.Hour
	// claimTTL bounds how long a message id stays claimed while its reply is computed (should a
	// replica die mid-way, a later retry is processed afresh).
	claimTTL = 2 * time.Minute
	// claimWait is how long a duplicate delivery of a message id waits for the first run's reply.
	claimWait = 10 * time.Second
)

// New builds the channel. core and rdb are required; optouts is required with an outbound
// transport. log may be nil (nothing is logged). communes are the canonical commune names
// keywords are matched against.
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
	if cfg.Outbound != nil && optouts == nil {
		return nil, errors.New("sms: opt-out store required to send")
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	r := cfg.Retry
	if r.Attempts <= 0 {
		r.Attempts = DefaultRetry.Attempts
	}
	if r.Backoff <= 0 {
		r.Backoff = DefaultRetry.Backoff
	}
	if r.MaxBackoff <= 0 {
		r.MaxBackoff = DefaultRetry.MaxBackoff
	}
	c := &Channel{
		cfg: cfg, rdb: rdb, core: core, optouts: optouts, communes: communes, log: log,
		cat:     cfg.Catalog,
		limiter: throttle.New(rdb, "throttle:"),
		render:  RenderOptions{MaxSegments: cfg.MaxSegments, Unicode: cfg.Unicode},
		retry:   r,
	}
	if c.cat == nil {
		cat, err := i18n.LoadCatalog(data.Embedded())
		if err != nil {
			return nil, fmt.Errorf("sms: %w", err)
		}
		c.cat = cat
	}
	return c, nil
}

// Inbound is one SMS as a transport received it.
type Inbound struct {
	// Transport names the transport ("twilio", "kannel"); IDs are unique within it.
	Transport string
	// From is the sender's number as the provider gave it (normalised to E.164 by the channel).
	From string
	// Text is the message in UTF-8, decoded by the transport from the provider's encoding.
	Text string
	// ID is the provider's id of this message. When set, the message is answered once however
	// often the provider delivers it (for a day). "" means no replay protection (the terminal).
	ID string
}

// ErrDuplicate is returned by Receive when the same message id is being answered by another
// request right now (the provider delivered it twice at once) and no reply was ready within a
// few seconds; the first request gives the reply.
var ErrDuplicate = errors.New("sms: message already being answered")

// Reply runs one inbound SMS through Receive, for a transport-less caller such as `gateway chat
// --channel sms` (messageID, when set, is replay-protected like a provider's).
func (c *Channel) Reply(ctx context.Context, from, body, messageID string) (string, error) {
	return c.Receive(ctx, Inbound{From: from, Text: body, ID: messageID})
}

// Receive runs one inbound SMS through the keyword grammar, the conversation core and the
// renderer, and returns the SMS text to answer with ("" means no answer).
//
// in.From is normalised to E.164 (an invalid number is ErrPhone). When in.ID is set the answer is
// remembered for a day under it: the same id again gets the same text without the core running
// twice. When the core fails the error is returned and nothing is remembered, so a retry is
// processed afresh.
func (c *Channel) Receive(ctx context.Context, in Inbound) (string, error) {
	start := time.Now()
	phone, err := NormalizePhone(in.From)
	if err != nil {
		return "", err
	}
	var claimKey string
	if in.ID != "" {
		claimKey = inboundKey(in.Transport, in.ID)
		claimed, err := c.rdb.SetNX(ctx, claimKey, "", claimTTL).Result()
		switch {
		case err != nil && redisconn.Unavailable(err):
			// Redis is gone: answered from memory by the core (degraded), without replay
			// protection meanwhile (a provider's second delivery of this id is answered again).
			claimKey, claimed = "", true
		case err != nil:
			return "", fmt.Errorf("sms: idempotency: %w", err)
		}
		if !claimed {
			text, err := c.awaitReply(ctx, claimKey)
			c.log.Info("sms inbound duplicate", "transport", in.Transport, "from", MaskPhone(phone), "sid", in.ID, "replayed", err == nil)
			return text, err
		}
	}
	intent, ent, _ := ParseKeyword(in.Text, c.communes)
	msg := gateway.Inbound{
		Channel:   gateway.SMS,
		SenderID:  phone,
		Text:      in.Text,
		Intent:    intent,
		Entities:  ent,
		MessageID: in.ID,
		Received:  start,
	}
	replies, err := c.core.Handle(ctx, msg)
	if err != nil {
		if claimKey != "" {
			c.rdb.Del(context.WithoutCancel(ctx), claimKey)
		}
		c.log.Error("sms inbound failed", "transport", in.Transport, "from", MaskPhone(phone), "sid", in.ID, "intent", intent, "err", err)
		return "", fmt.Errorf("sms: core: %w", err)
	}
	text := Render(replies, c.render)
	if claimKey != "" {
		if err := c.rdb.Set(context.WithoutCancel(ctx), claimKey, "1"+text, inboundTTL).Err(); err != nil {
			c.log.Warn("sms inbound reply not remembered", "sid", in.ID, "err", err)
		}
	}
	if intent == "" && len(replies) > 0 {
		intent = replies[0].Intent
	}
	segs, enc := Segments(text)
	c.log.Info("sms inbound", "transport", in.Transport, "from", MaskPhone(phone), "sid", in.ID, "intent", intent, "segments", segs, "encoding", enc.String())
	return text, nil
}

// Answer is Receive for transports whose provider does not carry a reply in its answer (Kannel's
// sms-service with max-messages = 0): the reply is sent as a new message through the outbound
// transport, ahead of bulk traffic, under the key "re:<transport>:<id>", so that the same
// inbound message is answered at most once however often it is delivered.
//
// It returns nil when the message is answered (or needs no answer, or is a duplicate being
// answered by another request). It returns an error when the answer could not be given yet —
// the core failed, or the send failed with an error that proves the provider did not take it —
// and the transport should make its provider deliver the message again (Kannel retries a
// failed get-url): the retry is not run through the core again, it only sends the remembered
// reply. A send whose outcome is unknown is not retried (it may have reached the phone).
func (c *Channel) Answer(ctx context.Context, in Inbound) error {
	if in.ID == "" {
		return errors.New("sms: Answer needs the message id (replay protection)")
	}
	text, err := c.Receive(ctx, in)
	switch {
	case errors.Is(err, ErrDuplicate):
		return nil
	case err != nil:
		return err
	case text == "":
		return nil
	}
	phone, _ := NormalizePhone(in.From) // checked by Receive
	// A reply answers what the person just sent: like an inline reply it is not held back by a
	// stop mark (the provider still refuses numbers that opted out with it).
	_, err = c.sendMessage(ctx, gateway.Outbound{
		Channel: gateway.SMS, To: phone, Priority: true, Key: "re:" + in.Transport + ":" + in.ID,
		Reply: gateway.Reply{Intent: "reply"},
	}, text, false)
	se := gateway.SendErrorOf(err)
	if se == nil || se.Kind != gateway.Retryable {
		return nil // sent, already sent, in doubt, refused for good: nothing a retry would change
	}
	return err
}

// TemporaryError is the short apology for a message that could not be answered now (asking to
// try again), rendered for SMS.
func (c *Channel) TemporaryError() string {
	return Render([]gateway.Reply{{Text: c.cat.T(c.cfg.Lang, "sms.error.temporary")}}, c.render)
}

// OptOut records that phone opted out at the provider (Twilio's STOP, error 21610): the number
// receives nothing until OptIn or a new subscription.
func (c *Channel) OptOut(ctx context.Context, phone string) error {
	if c.optouts == nil {
		return errors.New("sms: no opt-out store")
	}
	return c.optouts.Stop(ctx, gateway.SMS, phone, "opted_out")
}

// OptIn records that phone opted back in at the provider (Twilio's START).
func (c *Channel) OptIn(ctx context.Context, phone string) error {
	if c.optouts == nil {
		return errors.New("sms: no opt-out store")
	}
	return c.optouts.Resume(ctx, gateway.SMS, phone)
}

func inboundKey(transport, id string) string {
	if transport == "" {
		return keyInbound + id
	}
	return keyInbound + transport + ":" + id
}

// awaitReply waits for the reply another request is computing for the same message id.
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

// Package audience keeps who asked to receive announcements — on which channel, for which
// commune, in which language, in which beneficiary category — and who must not be messaged
// (opted out, blocked the bot, replied STOP). Broadcasts, payment-day reminders and status-change
// notifications ask it for their recipients; it never sends anything itself.
//
// Storage (Redis): one hash per subscriber and index sets per commune, channel, language and
// category that hold only the active (subscribed, not stopped) subscribers, so that an audience
// is counted with SINTERCARD and listed with SSCAN without loading it whole. Subscribers are
// spread over partition.N partitions by a hash of "channel:id" (Partition), each partition its
// own hash tag with its own index sets: a subscriber's hash and its index entries live in one
// slot, so an update is one atomic Lua script and a count is one SINTERCARD per combination per
// partition, summed (pipelined: one round trip per master). Keys: "aud{TT}sub:<channel:id>",
// "aud{TT}all", "aud{TT}inactive", "aud{TT}idx:<dimension>:<value>".
//
// Personal data: IDs are phone numbers or Telegram chat ids. This package logs nothing; callers
// must mask IDs (Mask) before logging them.
package audience

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/partition"
)

// Subscriber is one subscription: a person on one channel.
type Subscriber struct {
	Channel  gateway.Channel
	ID       string // Telegram chat id, or E.164 phone
	Commune  string // canonical name ("" = not chosen)
	Lang     string // vi|en
	Category string // from a verified application, "" if unknown
	Since    time.Time
}

// Categories are the beneficiary categories a subscriber (and a filter) may name.
var Categories = []string{"elderly", "disability", "child", "single_parent", "hiv"}

// Reasons a person is left out of audiences (the skipped counts of a broadcast use them).
const (
	ReasonUnsubscribed = "unsubscribed"
	ReasonBlocked      = "blocked"
	ReasonOptedOut     = "opted_out"
)

// Subscriber states kept in the hash's "state" field.
const (
	stateActive       = "active"
	stateStopped      = "stopped"
	stateUnsubscribed = "unsubscribed"
)

// ErrInvalid is wrapped by every error about bad input (unknown channel, empty id, bad
// language or category).
var ErrInvalid = errors.New("audience: invalid")

// Store reads and writes subscriptions in Redis. It is safe for concurrent use and shared by
// every replica.
type Store struct {
	rdb    redis.UniversalClient
	batch  int
	counts Counter
}

// Counter keeps the anonymous supervision figures (package stats).
type Counter interface {
	Add(ctx context.Context, metric, commune string, n int64)
}

// WithCounter counts every new stop (blocked, opted out) under "optouts:<reason>", by the
// subscriber's commune.
func (s *Store) WithCounter(c Counter) *Store { s.counts = c; return s }

// New returns a store on rdb. Keys start with "aud{TT}" (TT: the partition's tag).
func New(rdb redis.UniversalClient) *Store {
	return &Store{rdb: rdb, batch: 500}
}

func member(ch gateway.Channel, id string) string { return string(ch) + ":" + id }

// Partition returns the partition (partition.Of) of a subscriber: that of "channel:id".
// Broadcasts keep a recipient's state in the same partition.
func Partition(ch gateway.Channel, id string) int { return partition.Of(member(ch, id)) }

// prefix is the start of partition p's keys.
func prefix(p int) string { return "aud" + partition.Tag(p) }

func subKey(m string) string   { return prefix(partition.Of(m)) + "sub:" + m }
func inactiveKey(p int) string { return prefix(p) + "inactive" }
func idxKey(p int, dim, v string) string {
	return prefix(p) + "idx:" + dim + ":" + v
}

// CommuneKey is the index form of a commune name: lower-case, without diacritics, so "Vu Phuc"
// and "Vũ Phúc" name the same commune.
func CommuneKey(name string) string { return i18n.Key(name) }

func validate(ch gateway.Channel, id string) error {
	if !ch.Valid() {
		return fmt.Errorf("%w: unknown channel %q", ErrInvalid, ch)
	}
	if strings.TrimSpace(id) == "" || strings.ContainsAny(id, " \t\r\n") || len(id) > 64 {
		return fmt.Errorf("%w: bad subscriber id", ErrInvalid)
	}
	return nil
}

// upsert writes the subscriber hash and moves the member between index sets atomically.
// KEYS[1] subscriber hash. ARGV: prefix, member, state, reason, channel, id, commune, communeKey,
// lang, category, since(unix). An active state indexes the member; any other state removes it
// from every index and adds it to the inactive set. Index keys are derived from the prefix and
// share its hash tag.
var upsertScript = redis.NewScript(`
local p, m = ARGV[1], ARGV[2]
local old = redis.call('HMGET', KEYS[1], 'channel', 'commune_key', 'lang', 'category', 'since')
if old[1] then
  redis.call('SREM', p..'idx:ch:'..old[1], m)
  redis.call('SREM', p..'idx:commune:'..(old[2] or ''), m)
  redis.call('SREM', p..'idx:lang:'..(old[3] or ''), m)
  redis.call('SREM', p..'idx:cat:'..(old[4] or ''), m)
end
local since = ARGV[11]
if old[5] and ARGV[3] == 'active' and ARGV[12] == 'keep' then since = old[5] end
redis.call('HSET', KEYS[1], 'state', ARGV[3], 'reason', ARGV[4], 'channel', ARGV[5], 'id', ARGV[6],
  'commune', ARGV[7], 'commune_key', ARGV[8], 'lang', ARGV[9], 'category', ARGV[10], 'since', since)
if ARGV[3] == 'active' then
  redis.call('SADD', p..'all', m)
  redis.call('SREM', p..'inactive', m)
  redis.call('SADD', p..'idx:ch:'..ARGV[5], m)
  redis.call('SADD', p..'idx:commune:'..ARGV[8], m)
  redis.call('SADD', p..'idx:lang:'..ARGV[9], m)
  redis.call('SADD', p..'idx:cat:'..ARGV[10], m)
else
  redis.call('SREM', p..'all', m)
  redis.call('SADD', p..'inactive', m)
end
return 1
`)

// Subscribe creates or updates a subscription and clears any stop mark (the person asked for
// messages again). An empty Lang means "vi"; Since defaults to now on a new subscription and is
// kept on an update. A Category, when set, must be one of Categories.
func (s *Store) Subscribe(ctx context.Context, sub Subscriber) error {
	if err := validate(sub.Channel, sub.ID); err != nil {
		return err
	}
	lang := i18n.Lang(sub.Lang)
	if sub.Lang == "" {
		lang = i18n.Langs[0]
	}
	if lang == "" {
		return fmt.Errorf("%w: unknown language %q", ErrInvalid, sub.Lang)
	}
	if sub.Category != "" && !validCategory(sub.Category) {
		return fmt.Errorf("%w: unknown category %q", ErrInvalid, sub.Category)
	}
	since, keep := sub.Since, "no"
	if since.IsZero() {
		since, keep = time.Now(), "keep"
	}
	commune := strings.TrimSpace(sub.Commune)
	return s.write(ctx, sub.Channel, sub.ID, stateActive, "", commune, lang, sub.Category, since, keep)
}

func (s *Store) write(ctx context.Context, ch gateway.Channel, id, state, reason, commune, lang, category string, since time.Time, keep string) error {
	m := member(ch, id)
	err := upsertScript.Run(ctx, s.rdb, []string{subKey(m)}, prefix(partition.Of(m)), m, state, reason, string(ch), id,
		commune, CommuneKey(commune), lang, category, strconv.FormatInt(since.Unix(), 10), keep).Err()
	if err != nil {
		return fmt.Errorf("audience: %w", err)
	}
	return nil
}

func validCategory(c string) bool {
	for _, k := range Categories {
		if k == c {
			return true
		}
	}
	return false
}

// SetCategory records the beneficiary category learnt from a verified application on an
// existing subscription (no-op when there is none). It does not resume a stopped subscriber.
func (s *Store) SetCategory(ctx context.Context, ch gateway.Channel, id, category string) error {
	if category != "" && !validCategory(category) {
		return fmt.Errorf("%w: unknown category %q", ErrInvalid, category)
	}
	r, err := s.record(ctx, ch, id)
	if err != nil || r == nil || r.state == stateUnsubscribed {
		return err
	}
	return s.write(ctx, ch, id, r.state, r.reason, r.sub.Commune, r.sub.Lang, category, r.sub.Since, "no")
}

// Unsubscribe removes the subscription and marks the person opted out of all bulk messages
// ("unsubscribed"). Unsubscribing someone who never subscribed records the opt-out all the same.
func (s *Store) Unsubscribe(ctx context.Context, ch gateway.Channel, id string) error {
	if err := validate(ch, id); err != nil {
		return err
	}
	r, err := s.record(ctx, ch, id)
	if err != nil {
		return err
	}
	sub := Subscriber{Lang: i18n.Langs[0], Since: time.Now()}
	if r != nil {
		sub = r.sub
	}
	return s.write(ctx, ch, id, stateUnsubscribed, ReasonUnsubscribed, sub.Commune, sub.Lang, sub.Category, sub.Since, "no")
}

// Stop marks a recipient the provider says cannot or must not be messaged (Telegram 403
// "blocked", SMS 21610 "opted_out"): excluded from every audience until Resume or Subscribe; the
// subscription itself is kept. Stopping someone with no subscription records the mark, so that a
// later subscription on another path still starts from a clean Subscribe.
func (s *Store) Stop(ctx context.Context, ch gateway.Channel, id, reason string) error {
	if err := validate(ch, id); err != nil {
		return err
	}
	if reason == "" {
		reason = ReasonBlocked
	}
	r, err := s.record(ctx, ch, id)
	if err != nil {
		return err
	}
	if r != nil && r.state == stateUnsubscribed {
		return nil // already out of every audience; keep the stronger "unsubscribed"
	}
	sub := Subscriber{Lang: i18n.Langs[0], Since: time.Now()}
	if r != nil {
		sub = r.sub
	}
	if err := s.write(ctx, ch, id, stateStopped, reason, sub.Commune, sub.Lang, sub.Category, sub.Since, "no"); err != nil {
		return err
	}
	if s.counts != nil && (r == nil || r.state != stateStopped) {
		s.counts.Add(ctx, "optouts:"+reason, sub.Commune, 1) // a new stop, counted once
	}
	return nil
}

// Resume lifts a stop mark (the person wrote to the bot again, or sent START by SMS). It does
// not re-subscribe someone who unsubscribed; that takes Subscribe.
func (s *Store) Resume(ctx context.Context, ch gateway.Channel, id string) error {
	if err := validate(ch, id); err != nil {
		return err
	}
	r, err := s.record(ctx, ch, id)
	if err != nil || r == nil || r.state != stateStopped {
		return err
	}
	return s.write(ctx, ch, id, stateActive, "", r.sub.Commune, r.sub.Lang, r.sub.Category, r.sub.Since, "no")
}

// Stopped reports whether the recipient carries a stop mark (blocked, opted out at the provider).
func (s *Store) Stopped(ctx context.Context, ch gateway.Channel, id string) (bool, error) {
	r, err := s.record(ctx, ch, id)
	if err != nil || r == nil {
		return false, err
	}
	return r.state == stateStopped, nil
}

// Status returns why the recipient is left out of audiences: "" when subscribed and not
// stopped, ReasonUnsubscribed, the stop reason (ReasonBlocked, ReasonOptedOut, ...), or
// ReasonUnsubscribed when there is no subscription at all.
func (s *Store) Status(ctx context.Context, ch gateway.Channel, id string) (string, error) {
	r, err := s.record(ctx, ch, id)
	if err != nil {
		return "", err
	}
	switch {
	case r == nil:
		return ReasonUnsubscribed, nil
	case r.state == stateActive:
		return "", nil
	case r.reason == "":
		return ReasonBlocked, nil
	}
	return r.reason, nil
}

// Get returns the subscription, stopped or not, or nil, nil when there is none (never
// subscribed, or unsubscribed).
func (s *Store) Get(ctx context.Context, ch gateway.Channel, id string) (*Subscriber, error) {
	r, err := s.record(ctx, ch, id)
	if err != nil || r == nil || r.state == stateUnsubscribed {
		return nil, err
	}
	return &r.sub, nil
}

type record struct {
	sub           Subscriber
	state, reason string
}

func (s *Store) record(ctx context.Context, ch gateway.Channel, id string) (*record, error) {
	if err := validate(ch, id); err != nil {
		return nil, err
	}
	vals, err := s.rdb.HMGet(ctx, subKey(member(ch, id)), hashFields...).Result()
	if err != nil {
		return nil, fmt.Errorf("audience: %w", err)
	}
	return parseRecord(vals), nil
}

var hashFields = []string{"state", "reason", "channel", "id", "commune", "lang", "category", "since"}

func parseRecord(vals []any) *record {
	str := func(i int) string {
		if i < len(vals) {
			if v, ok := vals[i].(string); ok {
				return v
			}
		}
		return ""
	}
	if str(0) == "" {
		return nil
	}
	sec, _ := strconv.ParseInt(str(7), 10, 64)
	return &record{
		state:  str(0),
		reason: str(1),
		sub: Subscriber{
			Channel:  gateway.Channel(str(2)),
			ID:       str(3),
			Commune:  str(4),
			Lang:     str(5),
			Category: str(6),
			Since:    time.Unix(sec, 0),
		},
	}
}

// Mask hides most of a phone number or chat id for logs: "+84912345667" → "+8491*****67".
func Mask(id string) string {
	r := []rune(id)
	if len(r) <= 4 {
		return strings.Repeat("*", len(r))
	}
	keep, tail := 5, 2
	if len(r) < 10 {
		keep = 2
	}
	if keep+tail > len(r) {
		keep = len(r) - tail
	}
	return string(r[:keep]) + strings.Repeat("*", len(r)-keep-tail) + string(r[len(r)-tail:])
}

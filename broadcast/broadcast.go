// Package broadcast delivers messages that nobody asked for at that moment: staff announcements
// to an audience of subscribers, payment-day reminders, and application status-change
// notifications. All three go through one durable outbound path in Redis:
//
//   - A broadcast is a hash (text per language, audience filter, counters, status). Creating one
//     queues an expansion job; a worker walks the audience (audience.Store.Scan) and appends one
//     entry per recipient to the channel's queue stream, marking the recipient in the
//     broadcast's recipient hash first, so an expansion repeated after a crash adds nobody twice.
//   - Every `gateway serve` replica runs workers that read the queues through a consumer group.
//     Before calling the provider a worker claims the recipient (an idempotency record in the
//     recipient hash); after it, it records the outcome and acknowledges the entry. Entries held
//     by a worker that died are taken over with XAUTOCLAIM once its heartbeat has expired; a
//     recipient claimed by the dead worker but never finished is sent again (the only case in
//     which someone may get a message twice) and counted as "resent".
//   - Rate limits are the senders' business (bot/ and sms/ share Redis GCRA buckets); bulk sends
//     use Outbound.Priority=false, so replies to citizens go first.
//
// Redis layout: every key starts with "bc:{bc}:" (one hash tag: the Lua scripts touch the
// broadcast hash, its recipient hash and the queue streams atomically, which a Redis Cluster
// allows only within a slot). Status-change events are read from lookup's stream
// "lookup:changes" with the consumer group "notify".
package broadcast

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/audience"
	"github.com/socialaid-vn/gateway/i18n"
)

// Config tunes a Service. Zero values take the defaults noted.
type Config struct {
	// SMSMaxSegments is the longest SMS a broadcast may cost per recipient (default 2);
	// a longer text is refused at creation.
	SMSMaxSegments int
	// SMSUnicode keeps diacritics in SMS (UCS-2, 70 characters a segment).
	SMSUnicode bool
	// ReminderDaysBefore is how many days before a payment session its reminder goes out
	// (0 = on the day itself; pass config.ReminderDaysBefore, whose default is 2).
	ReminderDaysBefore int
	// Communes are the canonical commune names a broadcast audience may name.
	Communes []string
	// Workers is the number of concurrent sends per channel in this replica (default 8). The
	// senders' shared rate limits decide the real pace; Workers only needs to cover the
	// provider's latency (rate × latency, e.g. 30/s × 0.2 s = 6).
	Workers int

	// ClaimIdle is how long a queue entry stays with a worker before another replica may take it
	// over — only if that worker's heartbeat has also expired (default 1m).
	ClaimIdle time.Duration
	// Heartbeat is how long a worker counts as alive after its last beat (default 30s; it beats
	// every third of that).
	Heartbeat time.Duration
	// Poll is the longest a worker blocks waiting for new entries, and the scheduler's tick
	// (default 1s).
	Poll time.Duration
	// ReminderEvery is how often payment schedules are checked for reminders due (default 1h).
	ReminderEvery time.Duration
	// Retention is how long a finished broadcast's report and recipient marks are kept
	// (default 90 days).
	Retention time.Duration
	// StaffLang is the language of the staff /broadcast flow on Telegram (default vi).
	StaffLang string
	// RetryFor is how long one recipient's send keeps being retried while the provider proves
	// it did not take the message (connection refused, 5xx, throttled: gateway.Retryable),
	// counted from the first try (default 15m). A provider outage shorter than this delays the
	// broadcast instead of failing people; sends that may have reached the provider (Unknown)
	// are never retried.
	RetryFor time.Duration
	// RetryMaxWait caps the wait between two tries of one recipient (default 30s; a provider's
	// longer Retry-After is honoured up to a minute).
	RetryMaxWait time.Duration
	// MaxAttempts, when set, also caps the number of tries (0 = RetryFor alone decides).
	MaxAttempts int
}

func (c *Config) defaults() {
	if c.SMSMaxSegments <= 0 {
		c.SMSMaxSegments = 2
	}
	c.ReminderDaysBefore = max(c.ReminderDaysBefore, 0)
	if c.Workers <= 0 {
		c.Workers = 8
	}
	if c.ClaimIdle <= 0 {
		c.ClaimIdle = time.Minute
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 30 * time.Second
	}
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	if c.ReminderEvery <= 0 {
		c.ReminderEvery = time.Hour
	}
	if c.Retention <= 0 {
		c.Retention = 90 * 24 * time.Hour
	}
	if c.RetryFor <= 0 {
		c.RetryFor = 15 * time.Minute
	}
	if c.RetryMaxWait <= 0 {
		c.RetryMaxWait = 30 * time.Second
	}
}

// Schedules gives the payment sessions reminders are made from; (*lookup.Store) has it.
type Schedules interface {
	// NextPayment returns the commune's next session not ended by now, or nil, nil.
	NextPayment(ctx context.Context, commune string, now time.Time) (*Schedule, error)
}

// Schedule is one payment session of a commune.
type Schedule struct {
	Commune    string
	Start, End time.Time
	Place      string
	Method     string // cash, bank or post
}

// Watcher is a chat that asked for status-change notifications of an application.
type Watcher struct {
	Channel gateway.Channel
	ChatID  string
	Lang    string
}

// Changes is what the notifier needs from the application read model (lookup/); the lead wires
// a small adapter around *lookup.Store and lookup.NotificationReply.
type Changes interface {
	Watchers(ctx context.Context, code string) ([]Watcher, error)
	// Phone returns the phone registered with the application in E.164, or "".
	Phone(ctx context.Context, code string) (string, error)
	// Render writes the notification for status in lang.
	Render(lang, code, status string) gateway.Reply
}

// Service creates broadcasts, runs the workers that send them, and reports on them.
type Service struct {
	rdb      redis.UniversalClient
	aud      *audience.Store
	senders  map[gateway.Channel]gateway.Sender
	cat      *i18n.Catalog
	cfg      Config
	log      *slog.Logger
	p        string // key prefix "bc:{bc}:"
	consumer string
	communes map[string]string // audience.CommuneKey → canonical name

	schedules Schedules
	changes   Changes
	counts    Counter
	now       func() time.Time

	mu    sync.Mutex
	cache map[string]*message // broadcast id → what to send

	// crashAfterClaim, set by tests, is called between the claim and the provider call; returning
	// true abandons the entry there, as a process killed at that point would.
	crashAfterClaim func() bool
}

// ChangesStream is the stream lookup appends status changes to.
const ChangesStream = "lookup:changes"

const (
	groupSend   = "send"
	groupExpand = "expand"
	groupNotify = "notify"
)

// Errors returned by Service methods; the API maps them to HTTP statuses.
var (
	ErrNotFound = errors.New("broadcast not found")
	ErrFinished = errors.New("broadcast already finished")
	ErrInvalid  = errors.New("invalid broadcast")
)

// New returns a service. senders holds the channels that can send (a channel without a sender
// is left out of audiences); cat gives the reminder texts; log may be nil. A service with no
// senders can still report (the `gateway broadcast report` command uses it so).
func New(rdb redis.UniversalClient, aud *audience.Store, senders map[gateway.Channel]gateway.Sender, cat *i18n.Catalog, cfg Config, log *slog.Logger) *Service {
	cfg.defaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	s := &Service{
		rdb: rdb, aud: aud, senders: senders, cat: cat, cfg: cfg, log: log,
		p:        "bc:{bc}:",
		consumer: fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b)),
		communes: map[string]string{},
		now:      time.Now,
		cache:    map[string]*message{},
	}
	for _, c := range cfg.Communes {
		s.communes[audience.CommuneKey(c)] = c
	}
	return s
}

// WithReminders makes Run send payment-day reminders from src. Call before Run.
func (s *Service) WithReminders(src Schedules) *Service { s.schedules = src; return s }

// WithNotifier makes Run send status-change notifications read from ChangesStream. Call before
// Run.
func (s *Service) WithNotifier(src Changes) *Service { s.changes = src; return s }

// Channels lists the channels this gateway can send on (those with a sender), in a fixed order.
func (s *Service) Channels() []gateway.Channel { return s.channels() }

// Counter keeps the anonymous supervision figures (package stats).
type Counter interface {
	Add(ctx context.Context, metric, commune string, n int64)
}

// WithCounter counts broadcasts created and every delivery by kind and outcome
// ("deliveries:broadcast:sent", ...), in total (not per commune). Call before Run.
func (s *Service) WithCounter(c Counter) *Service { s.counts = c; return s }

func (s *Service) countDelivery(ctx context.Context, kind, mark string) {
	if s.counts == nil || kind == "" {
		return
	}
	outcome := map[string]string{"s": "sent", "f": "failed", "k": "skipped"}[mark]
	if outcome != "" {
		s.counts.Add(ctx, "deliveries:"+kind+":"+outcome, "", 1)
	}
}

// channels lists the channels with a sender, in a fixed order.
func (s *Service) channels() []gateway.Channel {
	var out []gateway.Channel
	for _, ch := range []gateway.Channel{gateway.Telegram, gateway.SMS, gateway.Terminal, gateway.Zalo, gateway.Web} {
		if s.senders[ch] != nil {
			out = append(out, ch)
		}
	}
	return out
}

// Key helpers. Every key shares the {bc} hash tag.
func (s *Service) metaKey(id string) string { return s.p + "b:" + id }
func (s *Service) rcptKey(id string) string { return s.p + "r:" + id }
func (s *Service) queueKey(ch gateway.Channel, lane string) string {
	return s.p + "q:" + string(ch) + ":" + lane
}
func (s *Service) jobsKey() string              { return s.p + "jobs" }
func (s *Service) scheduledKey() string         { return s.p + "scheduled" }
func (s *Service) hbKey(consumer string) string { return s.p + "hb:" + consumer }

// Queue lanes: notifications are read before bulk traffic.
const (
	laneNotify = "notify"
	laneBulk   = "bulk"
)

// Run works until ctx ends: send workers for every channel with a sender, takeover of entries
// left by dead replicas, the expansion of new broadcasts, the scheduler of send_at, and — when
// configured — reminders and the notifier. When ctx ends it stops taking new work, lets the
// sends in flight finish and record their outcome, then returns nil. Redis errors are logged and
// retried, never fatal.
func (s *Service) Run(ctx context.Context) error {
	if err := s.ensureGroups(ctx); err != nil {
		return err
	}
	hbCtx, stopHB := context.WithCancel(context.WithoutCancel(ctx))
	var hb sync.WaitGroup
	hb.Add(1)
	go func() { defer hb.Done(); s.heartbeat(hbCtx) }()

	var wg sync.WaitGroup
	spawn := func(f func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx) }()
	}
	for _, ch := range s.channels() {
		spawn(func(ctx context.Context) { s.worker(ctx, ch) })
		spawn(func(ctx context.Context) { s.reclaimer(ctx, ch) })
	}
	spawn(s.expander)
	spawn(s.scheduler)
	if s.schedules != nil && s.cat != nil {
		spawn(s.reminders)
	}
	if s.changes != nil {
		spawn(s.notifier)
	}
	wg.Wait()
	stopHB()
	hb.Wait()
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	s.rdb.Del(bg, s.hbKey(s.consumer))
	s.leaveGroups(bg)
	return nil
}

func (s *Service) ensureGroups(ctx context.Context) error {
	streams := []string{s.jobsKey()}
	for _, ch := range s.channels() {
		streams = append(streams, s.queueKey(ch, laneNotify), s.queueKey(ch, laneBulk))
	}
	for _, st := range streams {
		group := groupSend
		if st == s.jobsKey() {
			group = groupExpand
		}
		if err := createGroup(ctx, s.rdb, st, group, "0"); err != nil {
			return err
		}
	}
	if s.changes != nil {
		// Only changes from now on: a first start does not replay the whole history.
		if err := createGroup(ctx, s.rdb, ChangesStream, groupNotify, "$"); err != nil {
			return err
		}
	}
	return nil
}

func createGroup(ctx context.Context, rdb redis.UniversalClient, stream, group, start string) error {
	err := rdb.XGroupCreateMkStream(ctx, stream, group, start).Err()
	if err != nil && !isBusyGroup(err) {
		return fmt.Errorf("broadcast: create group %s on %s: %w", group, stream, err)
	}
	return nil
}

func isBusyGroup(err error) bool {
	return err != nil && len(err.Error()) >= 9 && err.Error()[:9] == "BUSYGROUP"
}

// leaveGroups removes this replica's consumer from the groups where it holds nothing, so the
// groups do not fill with the names of replicas long gone.
func (s *Service) leaveGroups(ctx context.Context) {
	type sg struct{ stream, group string }
	list := []sg{{s.jobsKey(), groupExpand}}
	for _, ch := range s.channels() {
		list = append(list, sg{s.queueKey(ch, laneNotify), groupSend}, sg{s.queueKey(ch, laneBulk), groupSend})
	}
	if s.changes != nil {
		list = append(list, sg{ChangesStream, groupNotify})
	}
	for _, x := range list {
		pend, err := s.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: x.stream, Group: x.group, Start: "-", End: "+", Count: 1, Consumer: s.consumer}).Result()
		if err == nil && len(pend) == 0 {
			s.rdb.XGroupDelConsumer(ctx, x.stream, x.group, s.consumer)
		}
	}
}

// heartbeat keeps this replica's liveness key fresh; others take over its entries only once it
// has expired.
func (s *Service) heartbeat(ctx context.Context) {
	t := time.NewTicker(s.cfg.Heartbeat / 3)
	defer t.Stop()
	for {
		if err := s.rdb.Set(ctx, s.hbKey(s.consumer), "1", s.cfg.Heartbeat).Err(); err != nil && ctx.Err() == nil {
			s.log.Warn("broadcast heartbeat", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sleep waits d or until ctx ends; it reports whether the full wait happened.
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

// canonCommunes maps names as written to canonical names, reporting the unknown ones.
func (s *Service) canonCommunes(in []string) (out, unknown []string) {
	for _, c := range in {
		if canon, ok := s.communes[audience.CommuneKey(c)]; ok {
			if !slices.Contains(out, canon) {
				out = append(out, canon)
			}
		} else {
			unknown = append(unknown, c)
		}
	}
	return out, unknown
}

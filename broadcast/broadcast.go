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
// Redis layout (partition.N partitions, each its own hash tag {TT}): a recipient's state, its
// queue entry and its share of the counters live in the partition of the recipient
// (audience.Partition), so claim, finish and enqueue are atomic scripts on one slot, and a
// broadcast's sending spreads over every master of a cluster. The broadcast's own hash (texts,
// filter, status) lives in the partition of its id; a report sums the partitions' counters. A
// few small keys that are not per recipient share the tag {bc}.
//
//	bc{TT}b:<id>           hash    the broadcast: kind, texts, filter, status   partition of id
//	bc{TT}c:<id>           hash    counters of the recipients of partition TT: total, finished,
//	                               sent, f:<reason>, k:<reason>, x:<reason>, expanded, done
//	bc{TT}r:<id>           hash    recipient "channel:to" → q | c|<consumer> | s | f | k
//	bc{TT}q:<channel>:<lane> stream the queue of partition TT (group "send")
//	bc{TT}hb:<consumer>    string  a replica's heartbeat, written in every partition
//	bc{bc}jobs             stream  expansions to run (group "expand")
//	bc{bc}scheduled        zset    broadcasts waiting for send_at
//	bc{bc}active           zset    broadcasts sending (checked until they are done)
//	bc{bc}list, bc{bc}seq  zset, counter: staff broadcasts by creation; the id sequence
//
// Status-change events are read from lookup's partitioned streams "lk{TT}changes" with the
// consumer group "notify".
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
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/audience"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/partition"
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
	// Payments returns the commune's coming sessions not ended by now, the next one of each
	// payment method, sorted by start; none when nothing is scheduled.
	Payments(ctx context.Context, commune string, now time.Time) ([]Schedule, error)
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
	p        string // prefix of the keys not per recipient: "bc{bc}"
	consumer string
	inflight sync.Map          // "id|field" → struct{}: recipients this replica is sending now
	communes map[string]string // audience.CommuneKey → canonical name

	schedules Schedules
	changes   Changes
	counts    Counter
	now       func() time.Time

	mu    sync.Mutex
	cache map[string]*message // broadcast id → what to send

	// wake tells this replica's idle worker of a channel that entries were queued here (other
	// replicas' workers find them within Poll).
	wake map[gateway.Channel]chan struct{}

	// crashAfterClaim, set by tests, is called between the claim and the provider call; returning
	// true abandons the entry there, as a process killed at that point would.
	crashAfterClaim func() bool
}

// ChangesStream returns the stream lookup appends the status changes of partition p to
// (lookup.ChangesStream).
func ChangesStream(p int) string { return "lk" + partition.Tag(p) + "changes" }

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
		p:        "bc{bc}",
		consumer: fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b)),
		communes: map[string]string{},
		now:      time.Now,
		cache:    map[string]*message{},
		wake:     map[gateway.Channel]chan struct{}{},
	}
	for _, c := range cfg.Communes {
		s.communes[audience.CommuneKey(c)] = c
	}
	for _, ch := range allChannels {
		s.wake[ch] = make(chan struct{}, 1)
	}
	return s
}

var allChannels = []gateway.Channel{gateway.Telegram, gateway.SMS, gateway.Terminal, gateway.Zalo, gateway.Web}

// woken tells the idle workers of these channels that entries were queued.
func (s *Service) woken(chans ...gateway.Channel) {
	for _, ch := range chans {
		select {
		case s.wake[ch] <- struct{}{}:
		default:
		}
	}
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

// Key helpers (see the package comment for the layout).
func pfx(p int) string { return "bc" + partition.Tag(p) }

// home is the partition of a broadcast's own hash: the partition named in a notification's id
// ("n-07-..." for a change of lookup's partition 7), else that of the id.
func home(id string) int {
	if len(id) > 5 && id[0] == 'n' && id[1] == '-' && id[4] == '-' {
		if n, err := strconv.Atoi(id[2:4]); err == nil && n >= 0 && n < partition.N {
			return n
		}
	}
	return partition.Of(id)
}

func (s *Service) metaKey(id string) string         { return pfx(home(id)) + "b:" + id }
func (s *Service) countKey(p int, id string) string { return pfx(p) + "c:" + id }
func (s *Service) rcptKey(p int, id string) string  { return pfx(p) + "r:" + id }
func (s *Service) queueKey(p int, ch gateway.Channel, lane string) string {
	return pfx(p) + "q:" + string(ch) + ":" + lane
}
func (s *Service) hbPrefix(p int) string { return pfx(p) + "hb:" }
func (s *Service) jobsKey() string       { return s.p + "jobs" }
func (s *Service) scheduledKey() string  { return s.p + "scheduled" }
func (s *Service) activeKey() string     { return s.p + "active" }

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
	pipe := s.rdb.Pipeline()
	for p := range partition.N {
		pipe.Del(bg, s.hbPrefix(p)+s.consumer)
	}
	_, _ = pipe.Exec(bg)
	s.leaveGroups(bg)
	return nil
}

type streamGroup struct{ stream, group, start string }

// groups lists the consumer groups this replica reads: the expansion jobs, the queues of its
// channels in every partition, and (with the notifier) lookup's change streams.
func (s *Service) groups() []streamGroup {
	list := []streamGroup{{s.jobsKey(), groupExpand, "0"}}
	for p := range partition.N {
		for _, ch := range s.channels() {
			list = append(list, streamGroup{s.queueKey(p, ch, laneNotify), groupSend, "0"}, streamGroup{s.queueKey(p, ch, laneBulk), groupSend, "0"})
		}
		if s.changes != nil {
			// Only changes from now on: a first start does not replay the whole history.
			list = append(list, streamGroup{ChangesStream(p), groupNotify, "$"})
		}
	}
	return list
}

// ensureGroups creates the consumer groups that do not exist yet, in one pipeline.
func (s *Service) ensureGroups(ctx context.Context) error {
	list := s.groups()
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StatusCmd, len(list))
	for i, g := range list {
		cmds[i] = pipe.XGroupCreateMkStream(ctx, g.stream, g.group, g.start)
	}
	_, _ = pipe.Exec(ctx)
	for i, c := range cmds {
		if err := c.Err(); err != nil && !isBusyGroup(err) {
			return fmt.Errorf("broadcast: create group %s on %s: %w", list[i].group, list[i].stream, err)
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
	list := s.groups()
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.XPendingExtCmd, len(list))
	for i, x := range list {
		cmds[i] = pipe.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: x.stream, Group: x.group, Start: "-", End: "+", Count: 1, Consumer: s.consumer})
	}
	_, _ = pipe.Exec(ctx)
	pipe = s.rdb.Pipeline()
	for i, x := range list {
		if pend, err := cmds[i].Result(); err == nil && len(pend) == 0 {
			pipe.XGroupDelConsumer(ctx, x.stream, x.group, s.consumer)
		}
	}
	_, _ = pipe.Exec(ctx)
}

// heartbeat keeps this replica's liveness keys fresh, one in every partition (a claim is checked
// against the heartbeat of its own partition); others take over its entries only once it has
// expired there.
func (s *Service) heartbeat(ctx context.Context) {
	t := time.NewTicker(s.cfg.Heartbeat / 3)
	defer t.Stop()
	for {
		pipe := s.rdb.Pipeline()
		for p := range partition.N {
			pipe.Set(ctx, s.hbPrefix(p)+s.consumer, "1", s.cfg.Heartbeat)
		}
		if _, err := pipe.Exec(ctx); err != nil && ctx.Err() == nil {
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

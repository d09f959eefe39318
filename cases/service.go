package cases

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/i18n"
)

// Outbox delivers messages to citizens and staff through the gateway's one outbound path (package
// broadcast: its durable queue, its retries and the senders' shared rate limits).
type Outbox interface {
	// Send queues out under id. It is idempotent: an id already queued queues nothing more. It
	// returns ErrNoChannel when no sender serves out.Channel.
	Send(ctx context.Context, id string, out gateway.Outbound) error
	// Outcome is what became of id so far (State queued while on its way); ErrNotFound when the
	// id was never queued or is past the outbox's retention.
	Outcome(ctx context.Context, id string) (Delivery, error)
}

// ErrNoChannel is returned by Outbox.Send when the gateway has no sender for the channel (the
// channel is not configured, or it is the terminal).
var ErrNoChannel = errors.New("no sender for this channel")

// Counter keeps the anonymous supervision figures (package stats). It must not fail the caller:
// an implementation logs its own errors.
type Counter interface {
	Add(ctx context.Context, metric, commune string, n int64)
	Observe(ctx context.Context, metric, commune string, d time.Duration)
}

// Auditor records staff actions on cases (the staff audit stream): who (a principal ID), what
// ("case_reply", ...), which case, and a detail without personal data. It must not fail the
// action, which is already done: an implementation logs its own errors.
type Auditor interface {
	Audit(ctx context.Context, actor, action, code, detail string)
}

// Staff is a staff member the service tells about new cases and reminds of deadlines, on a
// channel that can reach them (Telegram today).
type Staff struct {
	ID       string // the principal ID ("telegram:123456")
	Channel  gateway.Channel
	Address  string   // the chat id on Channel
	Communes []string // nil: every commune
}

// Principal is the staff member as a principal.
func (s Staff) Principal() Principal { return Principal{ID: s.ID, Communes: s.Communes} }

// Config tunes a Service; zero values take the defaults noted.
type Config struct {
	FirstResponseDays int           // working days to a first response (CASE_FIRST_RESPONSE_DAYS, default 2)
	ResolveDays       int           // working days to closing (CASE_RESOLVE_DAYS, default 10)
	Retention         time.Duration // a case is deleted this long after its last activity (CASE_RETENTION_DAYS, default 1095 days)
	Staff             []Staff       // told of new cases in their communes, reminded of overdue ones
	// Communes are the canonical names staff may give a case (matched without diacritics).
	Communes []string
	// NormalizeAddress puts an address staff typed into the form the channel uses (a phone
	// number into E.164), or says why it is not one; nil keeps addresses as typed.
	NormalizeAddress func(ch gateway.Channel, addr string) (string, error)
	StaffLang        string // language of the messages to staff (default vi)
	Now              func() time.Time
	// Poll is how often the outcomes of deliveries are collected (default 1s); RemindEvery how
	// often deadlines are checked (default 1m); PurgeEvery how often cases past their retention
	// are deleted (default 1h).
	Poll, RemindEvery, PurgeEvery time.Duration
}

func (c *Config) defaults() {
	if c.FirstResponseDays <= 0 {
		c.FirstResponseDays = 2
	}
	if c.ResolveDays <= 0 {
		c.ResolveDays = 10
	}
	if c.Retention <= 0 {
		c.Retention = 1095 * 24 * time.Hour
	}
	if i18n.Lang(c.StaffLang) == "" {
		c.StaffLang = i18n.Langs[0]
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	if c.RemindEvery <= 0 {
		c.RemindEvery = time.Minute
	}
	if c.PurgeEvery <= 0 {
		c.PurgeEvery = time.Hour
	}
}

// Service reads and changes cases. It is safe for concurrent use, and every replica may run one
// on the same Redis: all state is there, and each change is atomic.
type Service struct {
	rdb    redis.UniversalClient
	cal    Calendar
	cat    *i18n.Catalog
	out    Outbox
	counts Counter
	audits Auditor
	cfg    Config
	log    *slog.Logger
	p      string // key prefix "cases:{cases}:"
}

// New returns a service. rdb, cal and cat are required; out may be nil (nothing can be sent: a
// reply is recorded as undeliverable, no_channel — the terminal chat runs so), counts may be nil,
// log may be nil.
func New(rdb redis.UniversalClient, cal Calendar, cat *i18n.Catalog, out Outbox, counts Counter, cfg Config, log *slog.Logger) *Service {
	cfg.defaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{rdb: rdb, cal: cal, cat: cat, out: out, counts: counts, cfg: cfg, log: log, p: "cases:{cases}:"}
}

func (s *Service) now() time.Time { return s.cfg.Now() }

// commune returns the canonical name of a commune staff named.
func (s *Service) commune(name string) (string, bool) {
	k := i18n.Key(name)
	for _, c := range s.cfg.Communes {
		if i18n.Key(c) == k {
			return c, true
		}
	}
	return "", false
}

func (s *Service) count(ctx context.Context, metric, commune string, n int64) {
	if s.counts != nil {
		s.counts.Add(ctx, metric, commune, n)
	}
}

func (s *Service) observe(ctx context.Context, metric, commune string, d time.Duration) {
	if s.counts != nil {
		s.counts.Observe(ctx, metric, commune, d)
	}
}

// Key layout; every key shares the {cases} hash tag.
func (s *Service) caseKey(code string) string     { return s.p + "c:" + code }
func (s *Service) timelineKey(code string) string { return s.p + "t:" + code }
func (s *Service) seqKey(year int) string         { return s.p + "seq:" + itoa(int64(year)) }
func (s *Service) addrKey(ch gateway.Channel, addr string) string {
	return s.p + "a:" + string(ch) + ":" + addr
}
func (s *Service) liveKey(ch gateway.Channel, addr string) string {
	return s.p + "live:" + string(ch) + ":" + addr
}
func (s *Service) indexKey(dim, v string) string { return s.p + dim + ":" + v }
func (s *Service) allKey() string                { return s.p + "all" }
func (s *Service) dueKey() string                { return s.p + "due" }
func (s *Service) alarmKey() string              { return s.p + "alarm" }
func (s *Service) purgeKey() string              { return s.p + "purge" }
func (s *Service) deliveriesKey() string         { return s.p + "dlv" }

// Metric names given to the Counter.
const (
	MetricOpened        = "cases_opened"         // + ":" + kind
	MetricAnswered      = "cases_answered"       // first response given
	MetricClosed        = "cases_closed"         //
	MetricReopened      = "cases_reopened"       //
	MetricOverdue       = "cases_overdue"        // counted once per case, when it first passes a deadline
	MetricReplies       = "case_replies"         // + ":" + delivery state
	MetricFirstResponse = "case_first_response"  // duration
	MetricTimeToClose   = "case_time_to_close"   // duration
	MetricCitizenMsgs   = "case_citizen_message" // messages a citizen added to a case
)

// WithOutbox sets the outbox (the gateway builds it after the service). Call before use.
func (s *Service) WithOutbox(out Outbox) *Service { s.out = out; return s }

// WithAuditor makes every staff action (create, reply, note, assign, close, reopen — from the
// API, the console or Telegram) recorded by a. Call before use.
func (s *Service) WithAuditor(a Auditor) *Service { s.audits = a; return s }

func (s *Service) audit(ctx context.Context, p Principal, action, code, detail string) {
	if s.audits != nil {
		s.audits.Audit(context.WithoutCancel(ctx), p.ID, action, code, detail)
	}
}

// Reachable are the staff members the service can tell of a case of commune (on Telegram):
// those who see it. A console offers them as assignees beside its own accounts.
func (s *Service) Reachable(commune string) []Staff {
	var out []Staff
	for _, st := range s.cfg.Staff {
		if st.Principal().Sees(commune) {
			out = append(out, st)
		}
	}
	return out
}

// Counts are the figures staff's /stats shows: cases not closed, and those overdue.
func (s *Service) Counts(ctx context.Context) (map[string]int64, error) {
	pipe := s.rdb.Pipeline()
	open := pipe.ZCard(ctx, s.indexKey("s", string(Open)))
	assigned := pipe.ZCard(ctx, s.indexKey("s", string(Assigned)))
	answered := pipe.ZCard(ctx, s.indexKey("s", string(Answered)))
	overdue := pipe.ZCount(ctx, s.dueKey(), "-inf", itoa(ms(s.now())))
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	return map[string]int64{
		"cases_waiting": open.Val() + assigned.Val(), "cases_answered": answered.Val(), "cases_overdue": overdue.Val(),
	}, nil
}

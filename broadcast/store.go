package broadcast

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/audience"
	"github.com/socialaid-vn/gateway/i18n"
)

// Kinds of bulk message (the "intent" label of metrics.MessagesOut).
const (
	KindBroadcast    = "broadcast"
	KindReminder     = "reminder"
	KindNotification = "notification"
	KindDirect       = "direct" // one message to one person, ahead of bulk (Direct: a staff answer)
)

// Statuses of a broadcast.
const (
	StatusScheduled = "scheduled"
	StatusSending   = "sending"
	StatusDone      = "done"
	StatusCancelled = "cancelled"
)

// Recipient checks made just before sending (the "check" field of a broadcast).
const (
	checkSubscribed = "subscribed"  // still subscribed and not stopped (broadcasts, reminders)
	checkNotStopped = "not_stopped" // not stopped (notifications to Telegram watchers)
	checkStops      = "stops"       // only a stop (blocked, opted out) leaves out (Direct)
)

// checkDone marks a broadcast finished once its audience is fully queued and every queued
// recipient has an outcome, and starts the retention clock.
const luaCheckDone = `
local function checkdone(meta, rcpt, now, ttl)
  local h = redis.call('HMGET', meta, 'status', 'expanded', 'total', 'finished', 'finished_at')
  if h[2] == '1' and not h[5] and tonumber(h[4] or '0') >= tonumber(h[3] or '0') then
    redis.call('HSET', meta, 'finished_at', now)
    if h[1] == 'sending' then redis.call('HSET', meta, 'status', 'done') end
    redis.call('EXPIRE', meta, ttl)
    redis.call('EXPIRE', rcpt, ttl)
  end
end
`

// create: KEYS meta, scheduled, jobs. ARGV id, sendAt(ms), now(ms), field/value pairs.
var createScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i+1]) end
if ARGV[2] == '-1' then
  redis.call('HSET', KEYS[1], 'status', 'sending')
elseif tonumber(ARGV[2]) > tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], 'status', 'scheduled')
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
else
  redis.call('HSET', KEYS[1], 'status', 'sending')
  redis.call('XADD', KEYS[3], '*', 'b', ARGV[1])
end
return 1
`)

// cancel: KEYS meta, scheduled, rcpt. ARGV id, now(s), ttl(s).
var cancelScript = redis.NewScript(luaCheckDone + `
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return 'notfound' end
if st == 'done' then return 'done' end
if st ~= 'cancelled' then
  redis.call('HSET', KEYS[1], 'status', 'cancelled', 'cancelled_at', ARGV[2])
  redis.call('ZREM', KEYS[2], ARGV[1])
  if st == 'scheduled' then redis.call('HSET', KEYS[1], 'expanded', '1') end
  checkdone(KEYS[1], KEYS[3], ARGV[2], ARGV[3])
end
return 'ok'
`)

// schedule: KEYS scheduled, jobs. ARGV now(ms), meta key prefix.
var scheduleScript = redis.NewScript(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 20)
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  local mk = ARGV[2] .. id
  if redis.call('HGET', mk, 'status') == 'scheduled' then
    redis.call('HSET', mk, 'status', 'sending')
    redis.call('XADD', KEYS[2], '*', 'b', id)
  end
end
return #ids
`)

// enqueue: KEYS meta, rcpt, queue streams (one per channel index). ARGV id, then groups of
// (channel index, channel, to, lang). Marks each new recipient "q" and queues it; recipients
// already marked are skipped, so a repeated expansion adds nobody twice.
var enqueueScript = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return -2 end
if st == 'cancelled' then return -1 end
local added = 0
for i = 2, #ARGV, 4 do
  local f = ARGV[i+1] .. ':' .. ARGV[i+2]
  if redis.call('HSETNX', KEYS[2], f, 'q') == 1 then
    redis.call('XADD', KEYS[2 + tonumber(ARGV[i])], '*', 'b', ARGV[1], 'c', ARGV[i+1], 't', ARGV[i+2], 'l', ARGV[i+3])
    added = added + 1
  end
end
if added > 0 then redis.call('HINCRBY', KEYS[1], 'total', added) end
return added
`)

// expanded: KEYS meta, rcpt. ARGV now(s), ttl(s), then excluded reason/count pairs.
var expandedScript = redis.NewScript(luaCheckDone + `
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], 'x:' .. ARGV[i], ARGV[i+1]) end
redis.call('HSET', KEYS[1], 'expanded', '1')
checkdone(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
return 1
`)

// Create validates req, records the broadcast and queues it: now, or at SendAt. The preview it
// returns carries the new ID and the audience counted at creation; the recipients are listed
// when sending starts (people who subscribe or leave in between are taken into account).
func (s *Service) Create(ctx context.Context, req Request) (*Preview, error) {
	p, err := s.validate(req)
	if err != nil {
		return nil, err
	}
	pv, err := s.preview(ctx, p)
	if err != nil {
		return nil, err
	}
	n, err := s.rdb.Incr(ctx, s.p+"seq").Result()
	if err != nil {
		return nil, fmt.Errorf("broadcast: %w", err)
	}
	pv.ID = "b" + strconv.FormatInt(n, 10)
	created, err := s.create(ctx, pv.ID, KindBroadcast, laneBulk, checkSubscribed, p, pv)
	if err != nil {
		return nil, err
	}
	if !created {
		return nil, fmt.Errorf("broadcast: id %s already used", pv.ID)
	}
	s.index(ctx, pv.ID)
	pv.Status = StatusSending
	if p.sendAt.After(s.now()) {
		pv.Status = StatusScheduled
	}
	s.log.Info("broadcast created", "id", pv.ID, "recipients", pv.Recipients, "sms_segments", pv.SMSSegments, "status", pv.Status)
	if s.counts != nil {
		s.counts.Add(ctx, "broadcasts", "", 1)
	}
	return pv, nil
}

// create records a broadcast under id unless it exists (then it reports false). A broadcast of
// kind notification gets no expansion job: its recipients are queued by enqueueDirect.
func (s *Service) create(ctx context.Context, id, kind, lane, check string, p *plan, pv *Preview) (bool, error) {
	filter, err := json.Marshal(p.filter)
	if err != nil {
		return false, err
	}
	now := s.now()
	fields := []any{"kind", kind, "lane", lane, "check", check, "filter", string(filter),
		"created", strconv.FormatInt(now.Unix(), 10), "total", "0", "finished", "0", "sent", "0"}
	for lang, m := range p.msgs {
		b, err := json.Marshal(m)
		if err != nil {
			return false, err
		}
		fields = append(fields, "msg:"+lang, string(b))
	}
	sendAt := int64(0)
	if !p.sendAt.IsZero() {
		sendAt = p.sendAt.UnixMilli()
		fields = append(fields, "send_at", strconv.FormatInt(p.sendAt.Unix(), 10))
	}
	if p.by != "" {
		fields = append(fields, "by", p.by)
	}
	if pv != nil {
		fields = append(fields, "est", strconv.Itoa(pv.Recipients), "segments", strconv.Itoa(pv.SMSSegments))
	}
	if kind == KindNotification || kind == KindDirect {
		sendAt = -1
	}
	args := append([]any{id, sendAt, now.UnixMilli()}, fields...)
	r, err := createScript.Run(ctx, s.rdb, []string{s.metaKey(id), s.scheduledKey(), s.jobsKey()}, args...).Int()
	if err != nil {
		return false, fmt.Errorf("broadcast: create: %w", err)
	}
	return r == 1, nil
}

// Cancel stops a scheduled or sending broadcast: nothing more is sent (sends already at the
// provider finish), and the recipients not reached are counted as skipped "cancelled".
// Cancelling twice is fine; a finished broadcast gives ErrFinished, an unknown one ErrNotFound.
func (s *Service) Cancel(ctx context.Context, id string) error {
	if !validID(id) {
		return ErrNotFound
	}
	r, err := cancelScript.Run(ctx, s.rdb, []string{s.metaKey(id), s.scheduledKey(), s.rcptKey(id)},
		id, s.now().Unix(), int64(s.cfg.Retention.Seconds())).Text()
	if err != nil {
		return fmt.Errorf("broadcast: cancel: %w", err)
	}
	switch r {
	case "notfound":
		return ErrNotFound
	case "done":
		return ErrFinished
	}
	s.log.Info("broadcast cancelled", "id", id)
	return nil
}

// Report is the delivery report of a broadcast. Total = Sent + the failed + the skipped +
// Pending; Skipped includes the people of the audience left out when sending started
// (unsubscribed, blocked, opted out).
type Report struct {
	ID          string         `json:"id"`
	Kind        string         `json:"kind"`
	Status      string         `json:"status"`
	Total       int            `json:"total"`
	Sent        int            `json:"sent"`
	Failed      map[string]int `json:"failed"`
	Skipped     map[string]int `json:"skipped"`
	Pending     int            `json:"pending"`
	Resent      int            `json:"resent"` // sent again after a worker died mid-send
	Recipients  int            `json:"recipients"`
	SMSSegments int            `json:"sms_segments"`
	Created     time.Time      `json:"created_at"`
	SendAt      *time.Time     `json:"send_at,omitempty"`
	Finished    *time.Time     `json:"finished_at,omitempty"`
	// The audience as asked (empty lists: everyone), who asked, and the texts sent.
	Communes   []string          `json:"communes,omitempty"`
	Categories []string          `json:"categories,omitempty"`
	Channels   []gateway.Channel `json:"channels,omitempty"`
	By         string            `json:"created_by,omitempty"`
	Text       map[string]string `json:"text,omitempty"`
}

// Report reads a broadcast's progress (ErrNotFound when unknown or past its retention).
func (s *Service) Report(ctx context.Context, id string) (*Report, error) {
	if !validID(id) {
		return nil, ErrNotFound
	}
	h, err := s.rdb.HGetAll(ctx, s.metaKey(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("broadcast: report: %w", err)
	}
	if len(h) == 0 {
		return nil, ErrNotFound
	}
	num := func(k string) int { n, _ := strconv.Atoi(h[k]); return n }
	unix := func(k string) *time.Time {
		n, err := strconv.ParseInt(h[k], 10, 64)
		if err != nil || h[k] == "" {
			return nil
		}
		t := time.Unix(n, 0)
		return &t
	}
	r := &Report{
		ID: id, Kind: h["kind"], Status: h["status"], Sent: num("sent"), Resent: num("resent"),
		Failed: map[string]int{}, Skipped: map[string]int{}, Recipients: num("est"), SMSSegments: num("segments"),
		SendAt: unix("send_at"), Finished: unix("finished_at"),
	}
	if c := unix("created"); c != nil {
		r.Created = *c
	}
	r.By = h["by"]
	var f audience.Filter
	if json.Unmarshal([]byte(h["filter"]), &f) == nil {
		r.Communes, r.Categories, r.Channels = f.Communes, f.Categories, f.Channels
	}
	for _, l := range i18n.Langs {
		var m gateway.Reply
		if json.Unmarshal([]byte(h["msg:"+l]), &m) == nil && m.Text != "" {
			if r.Text == nil {
				r.Text = map[string]string{}
			} else if slices.ContainsFunc(i18n.Langs, func(o string) bool { return r.Text[o] == m.Text }) {
				continue // a language without a text of its own gets another's
			}
			r.Text[l] = m.Text
		}
	}
	excluded := 0
	for k, v := range h {
		n, _ := strconv.Atoi(v)
		switch {
		case strings.HasPrefix(k, "f:"):
			r.Failed[k[2:]] += n
		case strings.HasPrefix(k, "k:"):
			r.Skipped[k[2:]] += n
		case strings.HasPrefix(k, "x:"): // excluded at expansion
			r.Skipped[k[2:]] += n
			excluded += n
		}
	}
	queued := num("total")
	if h["expanded"] != "1" && r.Status != StatusCancelled {
		queued = max(queued, r.Recipients)
	}
	r.Total = queued + excluded
	r.Pending = max(queued-num("finished"), 0)
	if r.Status == StatusCancelled && h["expanded"] == "1" {
		// Entries still queued are counted as cancelled when a worker reaches them.
		r.Skipped["cancelled"] += r.Pending
		r.Pending = 0
	}
	return r, nil
}

// validID accepts the ids this package makes (b12, r-20251208-vu_phuc, n-1700000000000-0).
func validID(id string) bool {
	if id == "" || len(id) > 80 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// expand lists the audience of a broadcast into the queues. It is idempotent: run again after
// a crash it queues only the recipients not yet queued.
func (s *Service) expand(ctx context.Context, id string) error {
	h, err := s.rdb.HMGet(ctx, s.metaKey(id), "status", "filter", "lane", "kind").Result()
	if err != nil {
		return err
	}
	status, _ := h[0].(string)
	raw, _ := h[1].(string)
	lane, _ := h[2].(string)
	if status == "" || h[3] == KindNotification || h[3] == KindDirect {
		return nil // expired, unknown, or recipients queued directly: nothing to do
	}
	var f audience.Filter
	if err := json.Unmarshal([]byte(raw), &f); err != nil {
		return fmt.Errorf("broadcast %s: stored filter: %w", id, err)
	}
	ttl := int64(s.cfg.Retention.Seconds())
	if status == StatusCancelled {
		return expandedScript.Run(ctx, s.rdb, []string{s.metaKey(id), s.rcptKey(id)}, s.now().Unix(), ttl).Err()
	}
	excluded, err := s.aud.Excluded(ctx, f)
	if err != nil {
		return err
	}
	chans := s.channels()
	keys := []string{s.metaKey(id), s.rcptKey(id)}
	for _, ch := range chans {
		keys = append(keys, s.queueKey(ch, lane))
	}
	queued := 0
	errCancelled := errors.New("cancelled")
	err = s.aud.Scan(ctx, f, func(batch []audience.Subscriber) error {
		args := []any{id}
		for _, sub := range batch {
			idx := -1
			for i, ch := range chans {
				if ch == sub.Channel {
					idx = i
				}
			}
			if idx < 0 {
				excluded["no_channel"]++
				continue
			}
			lang := i18n.Lang(sub.Lang)
			if lang == "" {
				lang = i18n.Langs[0]
			}
			args = append(args, idx+1, string(sub.Channel), sub.ID, lang)
		}
		if len(args) == 1 {
			return nil
		}
		n, err := enqueueScript.Run(ctx, s.rdb, keys, args...).Int()
		if err != nil {
			return err
		}
		if n < 0 {
			return errCancelled
		}
		queued += n
		return nil
	})
	if err != nil && !errors.Is(err, errCancelled) {
		return err
	}
	args := []any{s.now().Unix(), ttl}
	for reason, n := range excluded {
		args = append(args, reason, n)
	}
	s.log.Info("broadcast queued", "id", id, "recipients", queued)
	return expandedScript.Run(ctx, s.rdb, keys[:2], args...).Err()
}

// enqueueDirect queues explicit recipients (notifications) for an existing broadcast id.
func (s *Service) enqueueDirect(ctx context.Context, id, lane string, rcpts []gateway.Outbound) error {
	chans := s.channels()
	keys := []string{s.metaKey(id), s.rcptKey(id)}
	for _, ch := range chans {
		keys = append(keys, s.queueKey(ch, lane))
	}
	args := []any{id}
	for _, r := range rcpts {
		for i, ch := range chans {
			if ch == r.Channel {
				args = append(args, i+1, string(r.Channel), r.To, r.Lang)
			}
		}
	}
	if len(args) > 1 {
		if err := enqueueScript.Run(ctx, s.rdb, keys, args...).Err(); err != nil {
			return err
		}
	}
	return expandedScript.Run(ctx, s.rdb, keys[:2], s.now().Unix(), int64(s.cfg.Retention.Seconds())).Err()
}

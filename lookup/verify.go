package lookup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/partition"
)

// Verify returns the application with this code when last4 are the last 4 digits of its
// citizen ID. The sender's failure count lives in the partition of the sender, the record, the
// code's failure count and the audit entry in the partition of the code: one round trip reads
// the sender's count, one script checks the code's lockout, reads the record, compares the keyed
// verifier, counts a failure for the code and appends the audit entry, and a failure costs one
// more (the sender's count).
//
// An unknown code, a malformed code and wrong digits all return ErrNoMatch after exactly the
// same work, and each counts as a failure for the sender and for the code. After SenderLimit
// failures from one sender, or CodeLimit for one code from anyone, within LockWindow, attempts
// return *LockedError (with the time they are accepted again) without looking at the record.
// (Attempts of one sender running at the very same moment may each pass the check before
// either counts; the limit can so be exceeded by the number of attempts in flight.)
// sender identifies the asker ("telegram:12345", "sms:+8491..."); it is stored only as a keyed
// hash and, masked, in the audit stream.
func (s *Store) Verify(ctx context.Context, sender, code, last4 string) (*Application, error) {
	if sender == "" {
		return nil, errors.New("lookup: Verify needs a sender")
	}
	codeKey, ok := NormalizeCode(code)
	if !ok {
		codeKey = "~invalid" // never a stored code; same work as an unknown one
	}
	last4 = strings.TrimSpace(last4)
	fsKey := s.failSenderKey(sender)
	pipe := s.rdb.Pipeline()
	fsGet := pipe.Get(ctx, fsKey)
	fsTTL := pipe.PTTL(ctx, fsKey)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("lookup: verify: %w", err)
	}
	fs, _ := strconv.Atoi(fsGet.Val())
	senderTTL := int64(0)
	if fs >= SenderLimit {
		senderTTL = max(fsTTL.Val().Milliseconds(), 1)
	}
	v, err := verifyScript.Run(ctx, s.rdb,
		[]string{appKey(codeKey), failCodeKey(codeKey), AuditStream(partition.Of(codeKey))},
		s.verifier(codeKey, last4), LockWindow.Milliseconds(), senderTTL, CodeLimit, AuditMaxLen,
		Mask(sender), codeKey,
	).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("lookup: verify: %w", err)
	}
	if len(v) != 2 {
		return nil, fmt.Errorf("lookup: verify script returned %d values", len(v))
	}
	switch v[0] {
	case "ok":
		app, _, err := decodeApp(v[1])
		return app, err
	case "locked":
		ms, _ := strconv.ParseInt(v[1], 10, 64)
		if ms <= 0 {
			ms = LockWindow.Milliseconds()
		}
		return nil, &LockedError{Until: s.now().Add(time.Duration(ms) * time.Millisecond)}
	}
	n, err := countScript.Run(ctx, s.rdb, []string{fsKey}, LockWindow.Milliseconds()).Int()
	if err != nil {
		return nil, fmt.Errorf("lookup: verify: %w", err)
	}
	return nil, &NoMatchError{Left: max(0, SenderLimit-n)}
}

// NoMatchError is the ErrNoMatch of Verify with how many more failures the sender may have
// before the lockout (the sender's own count: it tells nothing about the code).
type NoMatchError struct{ Left int }

func (e *NoMatchError) Error() string        { return ErrNoMatch.Error() }
func (e *NoMatchError) Is(target error) bool { return target == ErrNoMatch }

// verifyScript: KEYS = record, code failures, audit stream (one partition).
// ARGV = verifier, window (ms), sender lock (ms left; 0 = not locked), code limit, audit MAXLEN,
// masked sender, code key.
var verifyScript = redis.NewScript(`
local fc = tonumber(redis.call('GET', KEYS[2]) or '0')
local function audit(result)
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], '*', 'kind', 'code', 'sender', ARGV[6], 'code', ARGV[7], 'result', result)
end
local ls, lc = tonumber(ARGV[3]) > 0, fc >= tonumber(ARGV[4])
if ls or lc then
  local ttl = tonumber(ARGV[3])
  if lc then ttl = math.max(ttl, redis.call('PTTL', KEYS[2])) end
  audit('locked')
  return {'locked', tostring(ttl)}
end
local val = redis.call('GET', KEYS[1])
local stored = string.match(val or '', '^[^\31]*\31[^\31]*\31[^\31]*\31([^\31]*)') or ''
if val and #stored >= 12 and stored == string.sub(ARGV[1], 1, #stored) then
  audit('ok')
  return {'ok', val}
end
local c = redis.call('INCR', KEYS[2])
if c == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
audit('no_match')
return {'no_match', '0'}
`)

// countScript counts one failure of a sender. KEYS = the counter; ARGV = window (ms).
var countScript = redis.NewScript(`
local c = redis.call('INCR', KEYS[1])
if c == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return c
`)

// ByPhone returns the applications registered to phone, in code order; the lookup is audited
// (kind phone, sender masked, the codes found, no phone number) in the phone's partition. It
// costs two round trips: the phone index, then the records (in their own partitions) with the
// audit entry. Call it only with a number the channel proved to be the sender's own (a Telegram
// contact whose user is the sender, or the SMS sender number): it is not rate-limited and not
// subject to the code lockout. A number that is not a Vietnamese mobile returns no applications.
// An index entry whose record now names another phone (left by a crash between the record and
// the index) is ignored.
func (s *Store) ByPhone(ctx context.Context, sender, phone string) ([]Application, error) {
	e164, ok := NormalizePhone(phone)
	if !ok {
		e164 = "+84~invalid"
	}
	entries, err := s.rdb.HKeys(ctx, phoneKey(e164)).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("lookup: by phone: %w", err)
	}
	var codes []string
	want := phoneField(e164, "")
	for _, f := range entries {
		if c, ok := strings.CutPrefix(f, want); ok && c != "" {
			codes = append(codes, c)
		}
	}
	slices.Sort(codes)
	pipe := s.rdb.Pipeline()
	gets := make([]*redis.StringCmd, len(codes))
	for i, c := range codes {
		gets[i] = pipe.Get(ctx, appKey(c))
	}
	var out []Application
	found := 0
	add := func() error {
		for _, g := range gets {
			v, err := g.Result()
			if errors.Is(err, redis.Nil) {
				continue
			}
			if err != nil {
				return err
			}
			app, p, err := decodeApp(v)
			if err != nil {
				return err
			}
			if p == e164 {
				out = append(out, *app)
				found++
			}
		}
		return nil
	}
	if len(codes) > 0 {
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("lookup: by phone: %w", err)
		}
		if err := add(); err != nil {
			return nil, fmt.Errorf("lookup: by phone: %w", err)
		}
	}
	result := "ok"
	if found == 0 {
		result = "none"
	}
	if err := s.rdb.XAdd(ctx, &redis.XAddArgs{Stream: AuditStream(partition.Of(e164)), MaxLen: AuditMaxLen, Approx: true,
		Values: []any{"kind", "phone", "sender", Mask(sender), "code", strings.Join(codes, ","), "result", result}}).Err(); err != nil {
		return nil, fmt.Errorf("lookup: by phone: audit: %w", err)
	}
	slices.SortFunc(out, func(a, b Application) int { return strings.Compare(a.Code, b.Code) })
	return out, nil
}

// NextPayment returns the commune's next payment session that has not ended by now (one in
// progress counts), or nil, nil when none is scheduled or the commune is unknown. commune may be
// written as people write it ("vu phuc").
func (s *Store) NextPayment(ctx context.Context, commune string, now time.Time) (*Schedule, error) {
	canon, ok := s.Commune(commune)
	if !ok {
		return nil, nil
	}
	ms, err := s.rdb.ZRangeByScore(ctx, scheduleKey(canon), &redis.ZRangeBy{
		Min: strconv.FormatInt(now.Add(-24*time.Hour).Unix(), 10), Max: "+inf", Count: 16,
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("lookup: schedule: %w", err)
	}
	for _, m := range ms {
		sc, err := decodeSchedule(canon, m)
		if err != nil {
			return nil, err
		}
		if sc.End.After(now) {
			return sc, nil
		}
	}
	return nil, nil
}

// Watch records that a verified viewer on a channel wants status-change notifications for the
// application (the core calls it after a successful Verify or ByPhone). The watcher list lives
// WatchTTL after the last Watch. It returns ErrNoMatch when no such application is stored.
func (s *Store) Watch(ctx context.Context, code string, ch gateway.Channel, chatID, lang string) error {
	codeKey, ok := NormalizeCode(code)
	if !ok {
		return ErrNoMatch
	}
	if !ch.Valid() || chatID == "" || strings.ContainsAny(chatID, ": \t\n") {
		return fmt.Errorf("lookup: watch: bad channel %q or chat id", ch)
	}
	if l := i18n.Lang(lang); l != "" {
		lang = l
	} else {
		lang = i18n.Langs[0]
	}
	n, err := watchScript.Run(ctx, s.rdb, []string{appKey(codeKey), watchKey(codeKey)},
		string(ch)+":"+chatID, lang, WatchTTL.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("lookup: watch: %w", err)
	}
	if n == 0 {
		return ErrNoMatch
	}
	return nil
}

// watchScript adds a watcher only if the application exists. KEYS = record, watchers.
var watchScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
`)

// Watcher is a chat that asked for status-change notifications of an application.
type Watcher struct {
	Channel gateway.Channel
	ChatID  string
	Lang    string
}

// Watchers lists the watchers of an application, sorted by channel and chat id.
func (s *Store) Watchers(ctx context.Context, code string) ([]Watcher, error) {
	codeKey, ok := NormalizeCode(code)
	if !ok {
		return nil, nil
	}
	m, err := s.rdb.HGetAll(ctx, watchKey(codeKey)).Result()
	if err != nil {
		return nil, fmt.Errorf("lookup: watchers: %w", err)
	}
	out := make([]Watcher, 0, len(m))
	for k, lang := range m {
		ch, id, ok := strings.Cut(k, ":")
		if !ok {
			continue
		}
		out = append(out, Watcher{Channel: gateway.Channel(ch), ChatID: id, Lang: lang})
	}
	slices.SortFunc(out, func(a, b Watcher) int {
		if c := strings.Compare(string(a.Channel), string(b.Channel)); c != 0 {
			return c
		}
		return strings.Compare(a.ChatID, b.ChatID)
	})
	return out, nil
}

// Unwatch removes a watcher (the person asked to stop, or the channel reports them gone).
func (s *Store) Unwatch(ctx context.Context, code string, ch gateway.Channel, chatID string) error {
	codeKey, ok := NormalizeCode(code)
	if !ok {
		return nil
	}
	if err := s.rdb.HDel(ctx, watchKey(codeKey), string(ch)+":"+chatID).Err(); err != nil {
		return fmt.Errorf("lookup: unwatch: %w", err)
	}
	return nil
}

// Phone returns the phone number registered with the application, in E.164, or "" when the
// application has none or does not exist. It is for the SMS notification path only: the caller
// must check that number opted in, and must not show it.
func (s *Store) Phone(ctx context.Context, code string) (string, error) {
	codeKey, ok := NormalizeCode(code)
	if !ok {
		return "", nil
	}
	v, err := s.rdb.Get(ctx, appKey(codeKey)).Result()
	if err == redis.Nil {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("lookup: phone: %w", err)
	}
	_, p, err := decodeApp(v)
	return p, err
}

// Get returns the stored application with this code without verification, or ErrNoMatch. It is
// for staff tools and the notifier (which renders by code and status); never answer a citizen
// with it before Verify or ByPhone.
func (s *Store) Get(ctx context.Context, code string) (*Application, error) {
	codeKey, ok := NormalizeCode(code)
	if !ok {
		return nil, ErrNoMatch
	}
	v, err := s.rdb.Get(ctx, appKey(codeKey)).Result()
	if err == redis.Nil {
		return nil, ErrNoMatch
	}
	if err != nil {
		return nil, fmt.Errorf("lookup: get: %w", err)
	}
	app, _, err := decodeApp(v)
	return app, err
}

// Payments returns the commune's coming payment sessions that have not ended by now, one for
// each payment method (the next cash, post-office and bank session), sorted by start; none when
// nothing is scheduled or the commune is unknown.
func (s *Store) Payments(ctx context.Context, commune string, now time.Time) ([]Schedule, error) {
	canon, ok := s.Commune(commune)
	if !ok {
		return nil, nil
	}
	ms, err := s.rdb.ZRangeByScore(ctx, scheduleKey(canon), &redis.ZRangeBy{
		Min: strconv.FormatInt(now.Add(-24*time.Hour).Unix(), 10), Max: "+inf", Count: 64,
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("lookup: schedule: %w", err)
	}
	var out []Schedule
	seen := map[string]bool{}
	for _, m := range ms {
		sc, err := decodeSchedule(canon, m)
		if err != nil {
			return nil, err
		}
		if !sc.End.After(now) || seen[sc.Method] {
			continue
		}
		seen[sc.Method] = true
		out = append(out, *sc)
	}
	return out, nil
}

// SessionFor picks, among coming sessions sorted by start, the one of the given payment method
// when there is one, else the earliest; nil when there are none.
func SessionFor(sessions []Schedule, method string) *Schedule {
	for i := range sessions {
		if method != "" && sessions[i].Method == method {
			return &sessions[i]
		}
	}
	if len(sessions) == 0 {
		return nil
	}
	return &sessions[0]
}

// CodeShapes lists the shapes of every application code imported so far (CodeShape), sorted:
// the union of the partitions' sets, in one pipelined round trip.
func (s *Store) CodeShapes(ctx context.Context) ([]string, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringSliceCmd, partition.N)
	for p := range partition.N {
		cmds[p] = pipe.SMembers(ctx, shapesKey(p))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("lookup: code shapes: %w", err)
	}
	var m []string
	for _, c := range cmds {
		for _, sh := range c.Val() {
			if !slices.Contains(m, sh) {
				m = append(m, sh)
			}
		}
	}
	slices.Sort(m)
	return m, nil
}

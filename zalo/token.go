package zalo

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrToken means no valid access token could be had: the refresh failed (the refresh token was
// used already, expired after three months unused, or the OA revoked the app). Someone must
// authorise the OA again and set a new ZALO_REFRESH_TOKEN.
var ErrToken = errors.New("zalo: no valid access token")

// tokens keeps the OA's access and refresh tokens in Redis, shared by every replica.
//
// Zalo's refresh tokens work once: a refresh answers a new access token and a new refresh token,
// and the old refresh token is dead from then on. So exactly one process may refresh at a time
// (a Redis lock), it re-reads the tokens under the lock (another replica may have refreshed a
// moment before), and the answer replaces both tokens in one atomic write — the new refresh
// token is stored before the old one is forgotten, never after. If that write fails the new
// tokens stay in this process's memory and the write is retried; the failure is loud.
type tokens struct {
	rdb      redis.UniversalClient
	hc       *http.Client
	url      string // {ZALO_OAUTH_URL}/v4/oa/access_token
	appID    string
	secret   string // the app's secret key, sent in the secret_key header
	initial  string // ZALO_REFRESH_TOKEN: seeds the chain the first time, or replaces it when changed
	log      *slog.Logger
	now      func() time.Time
	before   time.Duration // refresh this long before the access token expires
	lockTTL  time.Duration
	waitStep time.Duration

	seal *sealer // the tokens are stored sealed (seal.go)

	seedOnce sync.Mutex
	seeded   bool

	mu      sync.Mutex
	pending *tokenSet // refreshed but not yet written to Redis
}

// tokenSet is one generation of tokens.
type tokenSet struct {
	Access, Refresh string
	Expires         time.Time
}

// Redis keys of the token store (one hash tag, so the scripts may touch them together).
const (
	keyTokens  = "zalo:{zalo}:tok"      // hash access, refresh, expires (unix ms), seed, updated
	keyLock    = "zalo:{zalo}:tok:lock" // the refresher's lock
	keyFailure = "zalo:{zalo}:tok:fail" // hash at (unix ms), reason: the last refresh failure
)

func newTokens(rdb redis.UniversalClient, hc *http.Client, oauthURL, appID, secret, initial string, log *slog.Logger) (*tokens, error) {
	seal, err := newSealer(secret)
	if err != nil {
		return nil, err
	}
	return &tokens{
		rdb: rdb, hc: hc, url: oauthURL + "/v4/oa/access_token", appID: appID, secret: secret, initial: initial,
		log: log, now: time.Now, before: time.Hour, lockTTL: 30 * time.Second, waitStep: 50 * time.Millisecond,
		seal: seal,
	}, nil
}

func seedOf(refresh string) string {
	sum := sha256.Sum256([]byte("zalo-refresh-seed:" + refresh))
	return hex.EncodeToString(sum[:8])
}

// seedScript writes the configured refresh token unless the store already holds the chain that
// started from it, and clears a recorded failure. KEYS[1] tokens, KEYS[2] failure. ARGV refresh,
// seed, now ms. Returns 1 when it (re)seeded.
var seedScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'seed') == ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'refresh', ARGV[1], 'access', '', 'expires', '0', 'seed', ARGV[2], 'updated', ARGV[3])
redis.call('DEL', KEYS[2])
return 1
`)

// seed runs once per process: the first start stores ZALO_REFRESH_TOKEN; a later start with the
// same value keeps the chain in Redis (that token was used long ago); a start with a different
// value means someone authorised the OA again, and the new chain replaces the old.
func (t *tokens) seed(ctx context.Context) error {
	t.seedOnce.Lock()
	defer t.seedOnce.Unlock()
	if t.seeded {
		return nil
	}
	if t.initial != "" {
		n, err := seedScript.Run(ctx, t.rdb, []string{keyTokens, keyFailure}, t.seal.seal(t.initial), seedOf(t.initial), t.now().UnixMilli()).Int()
		if err != nil {
			return fmt.Errorf("zalo: token store: %w", err)
		}
		if n == 1 {
			t.log.Info("zalo: refresh token from ZALO_REFRESH_TOKEN stored; later ones are kept in Redis")
		}
	}
	t.seeded = true
	return nil
}

func (t *tokens) read(ctx context.Context) (tokenSet, error) {
	if err := t.seed(ctx); err != nil {
		return tokenSet{}, err
	}
	t.mu.Lock()
	p := t.pending
	t.mu.Unlock()
	if p != nil {
		t.flushPending(ctx)
		return *p, nil
	}
	vals, err := t.rdb.HMGet(ctx, keyTokens, "access", "refresh", "expires").Result()
	if err != nil {
		return tokenSet{}, fmt.Errorf("zalo: token store: %w", err)
	}
	s := func(i int) string { v, _ := vals[i].(string); return v }
	ms, _ := strconv.ParseInt(s(2), 10, 64)
	access, err := t.seal.open(s(0))
	if err != nil {
		return tokenSet{}, err
	}
	refresh, err := t.seal.open(s(1))
	if err != nil {
		return tokenSet{}, err
	}
	return tokenSet{Access: access, Refresh: refresh, Expires: time.UnixMilli(ms)}, nil
}

// usable reports whether the access token may still be used at now (a small margin for the
// request in flight).
func (ts tokenSet) usable(now time.Time) bool {
	return ts.Access != "" && now.Add(30*time.Second).Before(ts.Expires)
}

// Access returns an access token to call the API with, refreshing first when there is none or it
// has expired. A token near its expiry is still returned; Run refreshes it ahead of time.
func (t *tokens) Access(ctx context.Context) (string, error) {
	ts, err := t.read(ctx)
	if err != nil {
		return "", err
	}
	if ts.usable(t.now()) {
		return ts.Access, nil
	}
	return t.refresh(ctx, ts.Access, false)
}

// Invalidate is called when Zalo refused the access token bad (-216/-220): it returns a fresh
// one, refreshing unless another caller has already replaced bad.
func (t *tokens) Invalidate(ctx context.Context, bad string) (string, error) {
	return t.refresh(ctx, bad, false)
}

// refreshDue refreshes when the access token expires within t.before (Run calls it).
func (t *tokens) refreshDue(ctx context.Context) error {
	ts, err := t.read(ctx)
	if err != nil {
		return err
	}
	if ts.Access != "" && t.now().Add(t.before).Before(ts.Expires) {
		return nil
	}
	_, err = t.refresh(ctx, ts.Access, true)
	return err
}

// releaseScript deletes the lock only if it is still ours.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// refresh obtains a new token pair unless the current access token is no longer stale (someone
// refreshed meanwhile). early marks a refresh ahead of expiry: then a token that is still usable
// but due is refreshed too.
func (t *tokens) refresh(ctx context.Context, stale string, early bool) (string, error) {
	var me [12]byte
	_, _ = rand.Read(me[:])
	owner := hex.EncodeToString(me[:])
	deadline := t.now().Add(t.lockTTL + 5*time.Second)
	for {
		ok, err := t.rdb.SetNX(ctx, keyLock, owner, t.lockTTL).Result()
		if err != nil {
			return "", fmt.Errorf("zalo: token lock: %w", err)
		}
		if ok {
			tok, err := t.refreshLocked(ctx, stale, early)
			if rerr := releaseScript.Run(context.WithoutCancel(ctx), t.rdb, []string{keyLock}, owner).Err(); rerr != nil {
				t.log.Warn("zalo: token lock not released (it expires by itself)", "err", rerr)
			}
			return tok, err
		}
		// Another replica refreshes: wait for it, then use what it stored.
		ts, err := t.read(ctx)
		if err != nil {
			return "", err
		}
		if ts.Access != stale && ts.usable(t.now()) {
			return ts.Access, nil
		}
		if t.now().After(deadline) {
			return "", fmt.Errorf("%w: waited for another replica's refresh in vain", ErrToken)
		}
		timer := time.NewTimer(t.waitStep)
		select {
		case <-ctx.Done():
			timer.Stop()
			return "", ctx.Err()
		case <-timer.C:
		}
	}
}

func (t *tokens) refreshLocked(ctx context.Context, stale string, early bool) (string, error) {
	ts, err := t.read(ctx)
	if err != nil {
		return "", err
	}
	now := t.now()
	if ts.Access != stale && ts.usable(now) && (!early || now.Add(t.before).Before(ts.Expires)) {
		return ts.Access, nil // refreshed by someone else a moment ago
	}
	if ts.Refresh == "" {
		err := fmt.Errorf("%w: no refresh token stored (set ZALO_REFRESH_TOKEN)", ErrToken)
		t.fail(ctx, err, "")
		return "", err
	}
	// A refresh token Zalo has refused once is never sent again: it cannot work, and a second
	// try would only hide the first answer.
	if dead, _ := t.rdb.HGet(ctx, keyFailure, "token").Result(); dead != "" && dead == seedOf(ts.Refresh) {
		reason, _ := t.rdb.HGet(ctx, keyFailure, "reason").Result()
		return "", fmt.Errorf("%w: the stored refresh token was refused before (%s)", ErrToken, reason)
	}
	fresh, err := t.call(ctx, ts.Refresh)
	if err != nil {
		var refused *refusedError
		if errors.As(err, &refused) {
			t.fail(ctx, err, seedOf(ts.Refresh))
		} else {
			t.fail(ctx, err, "")
		}
		return "", err
	}
	// The old refresh token is dead from now on: the new pair must reach Redis.
	t.mu.Lock()
	t.pending = &fresh
	t.mu.Unlock()
	t.flushPending(ctx)
	t.rdb.Del(context.WithoutCancel(ctx), keyFailure)
	t.log.Info("zalo: access token refreshed", "expires", fresh.Expires.UTC().Format(time.RFC3339))
	return fresh.Access, nil
}

// flushPending writes tokens refreshed but not yet stored. Until it succeeds they are served from
// memory, so this process keeps working while Redis is away, and other replicas wait.
func (t *tokens) flushPending(ctx context.Context) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.pending
	if p == nil {
		return
	}
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		err = t.rdb.HSet(bg, keyTokens, "access", t.seal.seal(p.Access), "refresh", t.seal.seal(p.Refresh),
			"expires", strconv.FormatInt(p.Expires.UnixMilli(), 10), "updated", strconv.FormatInt(t.now().UnixMilli(), 10)).Err()
		if err == nil {
			t.pending = nil
			return
		}
	}
	t.log.Error("ZALO TOKENS NOT STORED: the new refresh token lives only in this process until Redis is back; do not stop it", "err", err)
}

// oauthAnswer is the token endpoint's answer: tokens, or an error.
type oauthAnswer struct {
	AccessToken  string     `json:"access_token"`
	RefreshToken string     `json:"refresh_token"`
	ExpiresIn    flexString `json:"expires_in"`
	Error        int        `json:"error"`
	ErrorName    string     `json:"error_name"`
	ErrorDesc    string     `json:"error_description"`
}

// call makes one refresh request: POST form refresh_token, app_id, grant_type=refresh_token with
// the app secret in the secret_key header.
func (t *tokens) call(ctx context.Context, refresh string) (tokenSet, error) {
	form := url.Values{"refresh_token": {refresh}, "app_id": {t.appID}, "grant_type": {"refresh_token"}}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodPost, t.url, strings.NewReader(form.Encode()))
	if err != nil {
		return tokenSet{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("secret_key", t.secret)
	resp, err := t.hc.Do(req)
	if err != nil {
		return tokenSet{}, fmt.Errorf("%w: refresh request failed: %v", ErrToken, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return tokenSet{}, fmt.Errorf("%w: refresh answer unreadable: %v", ErrToken, err)
	}
	var a oauthAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		return tokenSet{}, fmt.Errorf("%w: refresh answered HTTP %d, not JSON", ErrToken, resp.StatusCode)
	}
	if a.Error != 0 || a.AccessToken == "" || a.RefreshToken == "" {
		why := a.ErrorDesc
		if why == "" {
			why = a.ErrorName
		}
		return tokenSet{}, &refusedError{fmt.Errorf("%w: Zalo refused the refresh (error %d: %s)", ErrToken, a.Error, why)}
	}
	secs, err := strconv.Atoi(string(a.ExpiresIn))
	if err != nil || secs <= 0 {
		secs = 3600 // be careful: refresh within the hour
	}
	return tokenSet{Access: a.AccessToken, Refresh: a.RefreshToken, Expires: t.now().Add(time.Duration(secs) * time.Second)}, nil
}

// fail records a refresh failure for /readyz (in Redis, so every replica shows it) and logs it
// loudly: until someone authorises the OA again, no Zalo message goes out.
// deadToken, when set, marks the refresh token Zalo refused (by its seed hash, never in clear).
func (t *tokens) fail(ctx context.Context, err error, deadToken string) {
	t.log.Error("ZALO TOKEN REFRESH FAILED: Zalo messages cannot be sent; authorise the OA again and set ZALO_REFRESH_TOKEN", "err", err)
	t.rdb.HSet(context.WithoutCancel(ctx), keyFailure, "at", strconv.FormatInt(t.now().UnixMilli(), 10), "reason", err.Error(), "token", deadToken)
}

// refusedError is a refresh Zalo answered with an error (as opposed to a request that failed
// on the way).
type refusedError struct{ err error }

func (e *refusedError) Error() string { return e.err.Error() }
func (e *refusedError) Unwrap() error { return e.err }

// status describes the token state for /readyz, and whether it is healthy.
func (t *tokens) status(ctx context.Context) (string, bool) {
	vals, err := t.rdb.HMGet(ctx, keyFailure, "at", "reason").Result()
	if err != nil {
		return "zalo: token state unknown (" + err.Error() + ")", false
	}
	if at, _ := vals[0].(string); at != "" {
		ms, _ := strconv.ParseInt(at, 10, 64)
		reason, _ := vals[1].(string)
		return fmt.Sprintf("zalo: TOKEN REFRESH FAILED at %s: %s — authorise the OA again and set ZALO_REFRESH_TOKEN",
			time.UnixMilli(ms).UTC().Format(time.RFC3339), reason), false
	}
	ts, err := t.read(ctx)
	if err != nil {
		return "zalo: token state unknown (" + err.Error() + ")", false
	}
	switch {
	case ts.usable(t.now()):
		return "zalo: ok (access token valid until " + ts.Expires.UTC().Format(time.RFC3339) + ")", true
	case ts.Refresh != "":
		return "zalo: ok (access token to be refreshed at the next use)", true
	}
	return "zalo: no refresh token: set ZALO_REFRESH_TOKEN", false
}

// flexString reads a JSON string or number as a string (Zalo sends expires_in and timestamps as
// strings, ids sometimes as numbers).
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	if string(b) == "null" {
		*f = ""
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*f = flexString(n.String())
	return nil
}

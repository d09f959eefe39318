package staff

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway/i18n"
)

// Account is a staff account as stored (never with its password).
type Account struct {
	Username   string
	Role       Role
	Communes   []string
	Disabled   bool
	MustChange bool // the password was given to the person (the demo admin's): change it first
	Created    time.Time
	Changed    time.Time // password last set
}

// Principal returns the account as the principal it acts as.
func (a *Account) Principal() *Principal {
	return &Principal{Username: a.Username, Role: a.Role, Communes: slices.Clone(a.Communes)}
}

// Options tune a Store. Zero values take the defaults noted.
type Options struct {
	// Communes are the canonical commune names accounts may name (required to add accounts
	// with communes).
	Communes []string
	// MaxFailures failed logins of one username within LockFor lock it for LockFor (default 5
	// in 15 minutes); AddressFailures do the same for one client address (default 30).
	MaxFailures, AddressFailures int
	LockFor                      time.Duration
	// SessionIdle ends a session unused this long (default 30 minutes); SessionMax ends every
	// session this long after sign-in (default 12 hours).
	SessionIdle, SessionMax time.Duration
	// Now is the clock (tests).
	Now func() time.Time

	argon argonParams
}

// Store keeps accounts, sessions and the audit stream in Redis. Safe for concurrent use.
type Store struct {
	rdb      redis.UniversalClient
	opts     Options
	communes map[string]string // i18n.Key → canonical
	hashing  chan struct{}     // bounds concurrent argon2 work (memory)
}

const prefix = "staff:{staff}:"

func userKey(name string) string   { return prefix + "u:" + name }
func usersKey() string             { return prefix + "users" }
func failUserKey(n string) string  { return prefix + "fail:u:" + n }
func failAddrKey(a string) string  { return prefix + "fail:a:" + a }
func sessionKey(h string) string   { return prefix + "sess:" + h }
func userSessKey(n string) string  { return prefix + "us:" + n }
func auditKey() string             { return prefix + "audit" }
func lockUntilKey(n string) string { return prefix + "lock:u:" + n }

// Errors of account operations.
var (
	ErrInvalid  = errors.New("invalid")
	ErrExists   = errors.New("account already exists")
	ErrNotFound = errors.New("no such account")
	// ErrBadLogin is the one answer to an unknown username, a wrong password and a disabled
	// account, so a login form tells nothing about which accounts exist.
	ErrBadLogin = errors.New("wrong username or password")
)

// LockedError says a login is refused until Until after repeated failures.
type LockedError struct{ Until time.Time }

func (e *LockedError) Error() string {
	return "too many failed logins; try again after " + e.Until.Format("15:04")
}

// NewStore returns a store on rdb.
func NewStore(rdb redis.UniversalClient, opts Options) *Store {
	if opts.MaxFailures <= 0 {
		opts.MaxFailures = 5
	}
	if opts.AddressFailures <= 0 {
		opts.AddressFailures = 30
	}
	if opts.LockFor <= 0 {
		opts.LockFor = 15 * time.Minute
	}
	if opts.SessionIdle <= 0 {
		opts.SessionIdle = 30 * time.Minute
	}
	if opts.SessionMax <= 0 {
		opts.SessionMax = 12 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.argon.memory == 0 {
		opts.argon = defaultArgon
	}
	s := &Store{rdb: rdb, opts: opts, communes: map[string]string{}, hashing: make(chan struct{}, 2)}
	for _, c := range opts.Communes {
		s.communes[i18n.Key(c)] = c
	}
	return s
}

// NormalizeUsername lower-cases a username and checks it: 3-32 of a-z 0-9 . _ -.
func NormalizeUsername(name string) (string, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if len(n) < 3 || len(n) > 32 {
		return "", fmt.Errorf("%w: username must be 3-32 characters", ErrInvalid)
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return "", fmt.Errorf("%w: username may hold only a-z, 0-9, '.', '_' and '-'", ErrInvalid)
		}
	}
	return n, nil
}

// canonCommunes maps names as written ("Vu Phuc") to canonical ones, refusing unknown names.
func (s *Store) canonCommunes(in []string) ([]string, error) {
	var out, unknown []string
	for _, c := range in {
		if strings.TrimSpace(c) == "" {
			continue
		}
		canon, ok := s.communes[i18n.Key(c)]
		if !ok {
			unknown = append(unknown, c)
			continue
		}
		if !slices.Contains(out, canon) {
			out = append(out, canon)
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("%w: unknown communes: %s", ErrInvalid, strings.Join(unknown, ", "))
	}
	return out, nil
}

func (s *Store) hash(pw string) (string, error) {
	s.hashing <- struct{}{}
	defer func() { <-s.hashing }()
	return hashPassword(pw, s.opts.argon)
}

func (s *Store) verify(encoded, pw string) bool {
	s.hashing <- struct{}{}
	defer func() { <-s.hashing }()
	return verifyPassword(encoded, pw)
}

// Add creates an account. An officer needs at least one commune; communes must be known.
func (s *Store) Add(ctx context.Context, username string, role Role, communes []string, password string, mustChange bool) (*Account, error) {
	name, err := NormalizeUsername(username)
	if err != nil {
		return nil, err
	}
	if !role.Valid() {
		return nil, fmt.Errorf("%w: role must be admin, officer or viewer, not %q", ErrInvalid, role)
	}
	cs, err := s.canonCommunes(communes)
	if err != nil {
		return nil, err
	}
	if role == Officer && len(cs) == 0 {
		return nil, fmt.Errorf("%w: an officer needs --communes (the communes they work for)", ErrInvalid)
	}
	if role == Admin {
		cs = nil // an admin covers every commune
	}
	if err := CheckPassword(name, password); err != nil {
		return nil, err
	}
	h, err := s.hash(password)
	if err != nil {
		return nil, err
	}
	now := s.opts.Now()
	ok, err := s.rdb.HSetNX(ctx, userKey(name), "role", string(role)).Result()
	if err != nil {
		return nil, fmt.Errorf("staff: %w", err)
	}
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrExists, name)
	}
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, userKey(name), "communes", strings.Join(cs, "\n"), "hash", h, "disabled", "0",
		"must_change", boolStr(mustChange), "created", now.Unix(), "changed", now.Unix())
	pipe.SAdd(ctx, usersKey(), name)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("staff: %w", err)
	}
	return &Account{Username: name, Role: role, Communes: cs, MustChange: mustChange, Created: now, Changed: now}, nil
}

func boolStr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// Get returns an account (ErrNotFound when there is none).
func (s *Store) Get(ctx context.Context, username string) (*Account, error) {
	a, _, err := s.get(ctx, username)
	return a, err
}

func (s *Store) get(ctx context.Context, username string) (*Account, string, error) {
	name, err := NormalizeUsername(username)
	if err != nil {
		return nil, "", ErrNotFound
	}
	h, err := s.rdb.HGetAll(ctx, userKey(name)).Result()
	if err != nil {
		return nil, "", fmt.Errorf("staff: %w", err)
	}
	if h["role"] == "" || h["hash"] == "" {
		return nil, "", ErrNotFound
	}
	unix := func(k string) time.Time { n, _ := strconv.ParseInt(h[k], 10, 64); return time.Unix(n, 0) }
	a := &Account{Username: name, Role: Role(h["role"]), Disabled: h["disabled"] == "1", MustChange: h["must_change"] == "1",
		Created: unix("created"), Changed: unix("changed")}
	if h["communes"] != "" {
		a.Communes = strings.Split(h["communes"], "\n")
	}
	return a, h["hash"], nil
}

// List returns every account, sorted by username.
func (s *Store) List(ctx context.Context) ([]Account, error) {
	names, err := s.rdb.SMembers(ctx, usersKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("staff: %w", err)
	}
	slices.Sort(names)
	var out []Account
	for _, n := range names {
		a, err := s.Get(ctx, n)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, *a)
	}
	return out, nil
}

// SetPassword replaces an account's password and ends its sessions. mustChange asks the person
// to choose their own at the next sign-in (a password an admin gave them).
func (s *Store) SetPassword(ctx context.Context, username, password string, mustChange bool) error {
	a, _, err := s.get(ctx, username)
	if err != nil {
		return err
	}
	if err := CheckPassword(a.Username, password); err != nil {
		return err
	}
	h, err := s.hash(password)
	if err != nil {
		return err
	}
	if err := s.rdb.HSet(ctx, userKey(a.Username), "hash", h, "must_change", boolStr(mustChange), "changed", s.opts.Now().Unix()).Err(); err != nil {
		return fmt.Errorf("staff: %w", err)
	}
	s.rdb.Del(ctx, failUserKey(a.Username), lockUntilKey(a.Username))
	return s.EndSessions(ctx, a.Username)
}

// SetDisabled disables (or enables again) an account; disabling ends its sessions at once.
func (s *Store) SetDisabled(ctx context.Context, username string, disabled bool) error {
	a, err := s.Get(ctx, username)
	if err != nil {
		return err
	}
	if err := s.rdb.HSet(ctx, userKey(a.Username), "disabled", boolStr(disabled)).Err(); err != nil {
		return fmt.Errorf("staff: %w", err)
	}
	if disabled {
		return s.EndSessions(ctx, a.Username)
	}
	return nil
}

// Authenticate checks a username and password from a login form. Failures are counted per
// username and per client address; past the limits every attempt is refused with *LockedError
// until the lock ends, whether the password is right or not. An unknown username, a wrong
// password and a disabled account all give ErrBadLogin after the same work.
func (s *Store) Authenticate(ctx context.Context, username, password, addr string) (*Account, error) {
	name, nerr := NormalizeUsername(username)
	if nerr != nil {
		name = "-invalid-"
	}
	now := s.opts.Now()
	ttl, err := s.rdb.TTL(ctx, lockUntilKey(name)).Result()
	if err != nil {
		return nil, fmt.Errorf("staff: %w", err)
	}
	if ttl > 0 {
		return nil, &LockedError{Until: now.Add(ttl)}
	}
	n, err := s.rdb.Get(ctx, failAddrKey(addr)).Int()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("staff: %w", err)
	}
	if n >= s.opts.AddressFailures {
		ttl, _ := s.rdb.TTL(ctx, failAddrKey(addr)).Result()
		return nil, &LockedError{Until: now.Add(max(ttl, time.Minute))}
	}
	var a *Account
	var encoded string
	if nerr == nil {
		var err error
		a, encoded, err = s.get(ctx, name)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
	}
	if a == nil {
		s.verify(dummyHash, password)
	} else if s.verify(encoded, password) && !a.Disabled {
		s.rdb.Del(ctx, failUserKey(name))
		return a, nil
	}
	// A failure: count it, and lock when a limit is reached.
	pipe := s.rdb.TxPipeline()
	fu := pipe.Incr(ctx, failUserKey(name))
	pipe.Expire(ctx, failUserKey(name), s.opts.LockFor)
	pipe.Incr(ctx, failAddrKey(addr))
	pipe.ExpireNX(ctx, failAddrKey(addr), s.opts.LockFor)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("staff: %w", err)
	}
	if fu.Val() >= int64(s.opts.MaxFailures) {
		s.rdb.Set(ctx, lockUntilKey(name), "1", s.opts.LockFor)
		s.rdb.Del(ctx, failUserKey(name))
		return nil, &LockedError{Until: now.Add(s.opts.LockFor)}
	}
	return nil, ErrBadLogin
}

// Unlock lifts a login lock of username (an admin's action).
func (s *Store) Unlock(ctx context.Context, username string) error {
	name, err := NormalizeUsername(username)
	if err != nil {
		return err
	}
	return s.rdb.Del(ctx, lockUntilKey(name), failUserKey(name)).Err()
}

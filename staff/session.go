package staff

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Session is a signed-in browser.
type Session struct {
	Token   string // the cookie value (only known right after Login)
	Account *Account
	Created time.Time
	// CSRF is a per-session secret the console puts in its forms, checked on every post in
	// addition to the cross-origin protection.
	CSRF string
}

// ErrNoSession is returned when a cookie names no live session (expired, signed out, ended by
// a password change or by disabling the account).
var ErrNoSession = errors.New("no session")

func tokenHash(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// StartSession signs a in: a new random token, stored only as its hash, idle-expiring.
func (s *Store) StartSession(ctx context.Context, a *Account) (*Session, error) {
	tok := randomToken()
	csrf := randomToken()
	now := s.opts.Now()
	k := sessionKey(tokenHash(tok))
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, k, "user", a.Username, "created", now.Unix(), "csrf", csrf)
	pipe.Expire(ctx, k, s.opts.SessionIdle)
	pipe.SAdd(ctx, userSessKey(a.Username), tokenHash(tok))
	pipe.Expire(ctx, userSessKey(a.Username), s.opts.SessionMax)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("staff: %w", err)
	}
	return &Session{Token: tok, Account: a, Created: now, CSRF: csrf}, nil
}

// Session returns the live session of a cookie value and keeps it alive for SessionIdle more.
// A session past SessionMax, of a disabled or deleted account, or unknown, is ErrNoSession.
func (s *Store) Session(ctx context.Context, tok string) (*Session, error) {
	if len(tok) != 43 {
		return nil, ErrNoSession
	}
	k := sessionKey(tokenHash(tok))
	h, err := s.rdb.HGetAll(ctx, k).Result()
	if err != nil {
		return nil, fmt.Errorf("staff: %w", err)
	}
	if h["user"] == "" {
		return nil, ErrNoSession
	}
	created, _ := strconv.ParseInt(h["created"], 10, 64)
	now := s.opts.Now()
	if now.Sub(time.Unix(created, 0)) > s.opts.SessionMax {
		s.rdb.Del(ctx, k)
		return nil, ErrNoSession
	}
	a, err := s.Get(ctx, h["user"])
	if errors.Is(err, ErrNotFound) || err == nil && a.Disabled {
		s.rdb.Del(ctx, k)
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, err
	}
	if err := s.rdb.Expire(ctx, k, s.opts.SessionIdle).Err(); err != nil {
		return nil, fmt.Errorf("staff: %w", err)
	}
	return &Session{Account: a, Created: time.Unix(created, 0), CSRF: h["csrf"]}, nil
}

// EndSession signs a cookie's session out.
func (s *Store) EndSession(ctx context.Context, tok string) error {
	k := sessionKey(tokenHash(tok))
	user, err := s.rdb.HGet(ctx, k, "user").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("staff: %w", err)
	}
	pipe := s.rdb.TxPipeline()
	pipe.Del(ctx, k)
	if user != "" {
		pipe.SRem(ctx, userSessKey(user), tokenHash(tok))
	}
	_, err = pipe.Exec(ctx)
	return err
}

// EndSessions signs every session of username out.
func (s *Store) EndSessions(ctx context.Context, username string) error {
	hs, err := s.rdb.SMembers(ctx, userSessKey(username)).Result()
	if err != nil {
		return fmt.Errorf("staff: %w", err)
	}
	keys := []string{userSessKey(username)}
	for _, h := range hs {
		keys = append(keys, sessionKey(h))
	}
	return s.rdb.Del(ctx, keys...).Err()
}

package staff

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// AuditEntry is one staff action. Detail never holds citizens' personal data (no phone
// numbers, names, ID numbers or message texts): ids, counts, communes.
type AuditEntry struct {
	ID     string    `json:"id"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`  // username, "admin-token" for machines, "-" when unknown
	Action string    `json:"action"` // login, login_failed, logout, broadcast_create, ...
	Target string    `json:"target,omitempty"`
	Detail string    `json:"detail,omitempty"`
	Addr   string    `json:"addr,omitempty"` // the client address
}

// auditMax bounds the audit stream (about a few years of a province's staff actions).
const auditMax = 200_000

// Audit appends an entry to the audit stream. The error is worth logging, never worth failing
// the action that was already done.
func (s *Store) Audit(ctx context.Context, e AuditEntry) error {
	if e.At.IsZero() {
		e.At = s.opts.Now()
	}
	err := s.rdb.XAdd(ctx, &redis.XAddArgs{Stream: auditKey(), MaxLen: auditMax, Approx: true, Values: []any{
		"at", e.At.UnixMilli(), "actor", e.Actor, "action", e.Action, "target", e.Target, "detail", e.Detail, "addr", e.Addr,
	}}).Err()
	if err != nil {
		return fmt.Errorf("staff audit: %w", err)
	}
	return nil
}

// AuditLog returns up to n entries, newest first, older than the entry id before ("" = from
// the newest), and the id to pass for the next page ("" at the end).
func (s *Store) AuditLog(ctx context.Context, before string, n int) ([]AuditEntry, string, error) {
	end := "+"
	if before != "" {
		end = "(" + before
	}
	msgs, err := s.rdb.XRevRangeN(ctx, auditKey(), end, "-", int64(n)+1).Result()
	if err != nil {
		return nil, "", fmt.Errorf("staff audit: %w", err)
	}
	next := ""
	if len(msgs) > n {
		msgs = msgs[:n]
		next = msgs[n-1].ID
	}
	out := make([]AuditEntry, 0, len(msgs))
	for _, m := range msgs {
		str := func(k string) string { v, _ := m.Values[k].(string); return v }
		ms, _ := strconv.ParseInt(str("at"), 10, 64)
		out = append(out, AuditEntry{ID: m.ID, At: time.UnixMilli(ms), Actor: str("actor"), Action: str("action"),
			Target: str("target"), Detail: str("detail"), Addr: str("addr")})
	}
	return out, next, nil
}

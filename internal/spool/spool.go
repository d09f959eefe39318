// Package spool keeps inbound events in memory while Redis cannot take them, bounded in count
// and bytes, and hands them back in arrival order once it can: a channel whose provider does not
// deliver again (or not for long) answers the provider 200 and loses nothing to a Redis outage.
// A full spool refuses (the caller answers the provider with an error, so a provider that
// retries does). The spool lives in the process: a crash during an outage loses what it holds.
package spool

import (
	"context"
	"sync"
	"time"
)

// Item is one spooled event.
type Item struct {
	Key  string // what the event is queued under (the caller's dedupe key, a shard)
	Body []byte
	At   time.Time
}

// Spool is a bounded FIFO of items.
type Spool struct {
	mu       sync.Mutex
	items    []Item
	bytes    int
	maxItems int
	maxBytes int
	wake     chan struct{}
}

// New returns a spool of at most maxItems items and maxBytes bytes of bodies.
func New(maxItems, maxBytes int) *Spool {
	return &Spool{maxItems: maxItems, maxBytes: maxBytes, wake: make(chan struct{}, 1)}
}

// Add keeps an item; false when the spool is full.
func (s *Spool) Add(key string, body []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.items) >= s.maxItems || s.bytes+len(body) > s.maxBytes {
		return false
	}
	s.items = append(s.items, Item{Key: key, Body: append([]byte(nil), body...), At: time.Now()})
	s.bytes += len(body)
	return true
}

// Len is the number of items held.
func (s *Spool) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.items)
}

// Wake makes Replay try at once (Redis is back).
func (s *Spool) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Replay hands the items to put, oldest first, every interval (or at Wake) until ctx ends; an
// item leaves the spool when put returns nil, and a failure stops the round (Redis is still
// away) to try again later, keeping the order.
func (s *Spool) Replay(ctx context.Context, interval time.Duration, put func(context.Context, Item) error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
		for {
			s.mu.Lock()
			if len(s.items) == 0 {
				s.mu.Unlock()
				break
			}
			it := s.items[0]
			s.mu.Unlock()
			if put(ctx, it) != nil {
				break
			}
			s.mu.Lock()
			s.items = s.items[1:]
			s.bytes -= len(it.Body)
			if len(s.items) == 0 {
				s.items = nil
			}
			s.mu.Unlock()
		}
	}
}

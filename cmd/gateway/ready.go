package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/socialaid-vn/gateway/redisconn"
)

// hashTagger is a part of the gateway that keeps its data under Redis hash tags (one per
// partition): lookup, audience, broadcast, cases, stats, staff, zalo.
type hashTagger interface{ HashTags() []string }

// partitions collects the hash tags of every part, for the Redis health probe and /readyz: the
// gateway is ready only when it can write to each of them (and, on a cluster, to every master).
type partitions struct {
	mu    sync.RWMutex
	parts []hashTagger
}

func (p *partitions) add(parts ...hashTagger) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, x := range parts {
		if x != nil {
			p.parts = append(p.parts, x)
		}
	}
}

func (p *partitions) tags() []string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	seen := map[string]bool{}
	var out []string
	for _, x := range p.parts {
		for _, t := range x.HashTags() {
			if !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	return out
}

// readyBudget bounds /readyz; readyProbe bounds its writes to Redis.
const (
	readyBudget = 2 * time.Second
	readyProbe  = time.Second
)

// readyz answers 200 when a short write to every partition succeeded within readyProbe, else 503
// naming the partition (or master) that failed; the details follow (Zalo tokens, persistence).
func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyBudget)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	pctx, pcancel := context.WithTimeout(ctx, readyProbe)
	err := redisconn.Probe(pctx, s.conn.Client, s.parts.tags())
	pcancel()
	if err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "redis unavailable: "+err.Error())
		if s.conn.Health.Down() {
			fmt.Fprintf(w, "degraded since %s: policy answers from memory; status, subscriptions and cases paused\n",
				s.conn.Health.Since().UTC().Format(time.RFC3339))
		}
		return
	}
	fmt.Fprintln(w, "ok")
	if s.zalo != nil {
		// Detail only: a Zalo token problem must not take Telegram and SMS out of service.
		line, _ := s.zalo.Status(ctx)
		fmt.Fprintln(w, line)
	}
	if s.persistence != "" { // cases: how Redis keeps the records (not on the embedded demo)
		fmt.Fprintln(w, "persistence: "+s.persistence)
	}
}

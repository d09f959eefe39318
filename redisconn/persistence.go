package redisconn

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Persistence is how a Redis server keeps its data across a restart. Cases and subscriptions are
// the department's own records, not a cache an import can rebuild: they need AOF (appendfsync
// everysec or always), and a replica.
type Persistence struct {
	AOF      bool   // appendonly yes
	Fsync    string // appendfsync: always, everysec or no ("" when unknown)
	RDB      bool   // snapshots configured (save points)
	RDBKnown bool   // CONFIG GET save answered (managed services often refuse CONFIG)
	Replicas int    // connected replicas (the fewest of any master, on a cluster)
	Masters  int    // servers looked at
}

// Off reports whether a restart of the server would lose everything.
func (p Persistence) Off() bool { return !p.AOF && p.RDBKnown && !p.RDB }

// Warning says what is wrong for records that must not be lost ("" when AOF with fsync every
// second or always, and a replica).
func (p Persistence) Warning() string {
	switch {
	case p.Off():
		return "Redis persistence is off (no AOF, no snapshots): cases and subscriptions are lost when Redis restarts; set appendonly yes and appendfsync everysec (README, Durability)"
	case !p.AOF && p.RDB:
		return "Redis keeps only RDB snapshots: changes since the last snapshot are lost on a crash; set appendonly yes and appendfsync everysec (README, Durability)"
	case !p.AOF:
		return "Redis AOF is off (appendonly no): set appendonly yes and appendfsync everysec (README, Durability)"
	case p.Fsync == "no":
		return "Redis appendfsync is no: up to 30 s of writes can be lost on a crash; set appendfsync everysec (README, Durability)"
	case p.Replicas == 0:
		return "Redis has no replica: a lost disk loses the cases; add a replica and scheduled backups (README, Durability)"
	}
	return ""
}

// String describes p in one line ("aof everysec, snapshots, 1 replica").
func (p Persistence) String() string {
	var parts []string
	if p.AOF {
		parts = append(parts, "aof "+p.Fsync)
	} else {
		parts = append(parts, "no aof")
	}
	switch {
	case !p.RDBKnown:
		parts = append(parts, "snapshots unknown")
	case p.RDB:
		parts = append(parts, "snapshots")
	default:
		parts = append(parts, "no snapshots")
	}
	parts = append(parts, fmt.Sprintf("%d replica(s)", p.Replicas))
	return strings.Join(parts, ", ")
}

// CheckPersistence reads the persistence settings of the server, or of every master of a
// cluster (the weakest counts).
func CheckPersistence(ctx context.Context, c redis.UniversalClient) (Persistence, error) {
	if cc, ok := c.(*redis.ClusterClient); ok {
		var mu sync.Mutex
		var all []Persistence
		err := cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			p, err := check(ctx, m)
			mu.Lock()
			all = append(all, p)
			mu.Unlock()
			return err
		})
		if err != nil || len(all) == 0 {
			return Persistence{}, err
		}
		w := all[0]
		for _, p := range all[1:] {
			w.AOF = w.AOF && p.AOF
			if p.Fsync == "no" || w.Fsync == "" {
				w.Fsync = p.Fsync
			}
			w.RDB = w.RDB && p.RDB
			w.RDBKnown = w.RDBKnown && p.RDBKnown
			w.Replicas = min(w.Replicas, p.Replicas)
		}
		w.Masters = len(all)
		return w, nil
	}
	return check(ctx, c)
}

func check(ctx context.Context, c redis.Cmdable) (Persistence, error) {
	p := Persistence{Masters: 1}
	info, err := c.Info(ctx, "persistence", "replication").Result()
	if err != nil {
		return p, fmt.Errorf("redis persistence: %w", err)
	}
	for _, line := range strings.Split(info, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
		switch k {
		case "aof_enabled":
			p.AOF = v == "1"
		case "connected_slaves":
			p.Replicas, _ = strconv.Atoi(v)
		}
	}
	if cfg, err := c.ConfigGet(ctx, "save").Result(); err == nil {
		if v, ok := cfg["save"]; ok {
			p.RDBKnown = true
			p.RDB = strings.TrimSpace(v) != ""
		}
	}
	if cfg, err := c.ConfigGet(ctx, "appendfsync").Result(); err == nil {
		p.Fsync = cfg["appendfsync"]
	}
	return p, nil
}

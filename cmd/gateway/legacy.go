package main

import (
	"context"

	"github.com/socialaid-vn/gateway/audience"
	"github.com/socialaid-vn/gateway/broadcast"
	"github.com/socialaid-vn/gateway/lookup"
)

// warnLegacy logs, once at start-up, when Redis still holds data of the single-hash-tag layout
// (written before the partitions): the gateway does not read it until `gateway migrate` moves it.
// It looks at a few keys every such deployment has, not at every key.
func (a *app) warnLegacy(ctx context.Context) {
	keys := []string{lookup.LegacyTag + ":shapes", lookup.LegacyChanges, audience.LegacyPrefix + "all",
		audience.LegacyPrefix + "inactive", broadcast.LegacyPrefix + "seq"}
	found := 0
	for _, k := range keys {
		if n, err := a.conn.Client.Exists(ctx, k).Result(); err == nil && n > 0 {
			found++
		}
	}
	if found > 0 {
		a.log.Warn("Redis holds data of the layout before partitions (applications, subscriptions or broadcasts): " +
			"the gateway does not see it until it is moved; stop the replicas and run `gateway migrate`")
	}
}

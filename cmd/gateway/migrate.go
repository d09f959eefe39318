package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/audience"
	"github.com/socialaid-vn/gateway/broadcast"
	"github.com/socialaid-vn/gateway/lookup"
)

// cmdMigrate moves the data of the single-hash-tag layout (before the keys were partitioned) to
// the partitioned one: the read model, the audience, the broadcasts. It prints its progress on
// stderr and a summary on stdout; it is idempotent (run again, it finds nothing to move) and
// resumable (interrupted, it goes on where it stopped). Stop the gateway's replicas first: a
// broadcast being sent during the migration may repeat the sends in flight.
//
//	gateway migrate
func cmdMigrate(ctx context.Context, env *environ, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%w: migrate takes no arguments", errUsage)
	}
	cfg, conn, err := offlineRedis(ctx, env, "migrate", "the embedded Redis starts empty, with nothing to migrate")
	if err != nil {
		return err
	}
	defer conn.Close()
	_, communes, err := dataCommunes(cfg)
	if err != nil {
		return err
	}
	store, err := lookup.New(conn.Client, lookup.Options{HashKey: []byte(cfg.LookupHashKey), Communes: communes})
	if err != nil {
		return err
	}
	start := time.Now()
	last := time.Time{}
	report := func(what string, force bool) {
		if force || time.Since(last) >= time.Second {
			last = time.Now()
			fmt.Fprintf(env.stderr, "migrate: %s (%.0fs)\n", what, time.Since(start).Seconds())
		}
	}
	fmt.Fprintln(env.stderr, "migrate: read model (applications, watchers, schedules, lockouts, status changes)")
	moved, err := store.Migrate(ctx, func(m lookup.Migrated) error {
		report(describe(m), false)
		return ctx.Err()
	})
	report("read model: "+describe(moved), true)
	if err != nil {
		return fmt.Errorf("stopped (run it again to go on): %w", err)
	}
	aud := audience.New(conn.Client)
	fmt.Fprintln(env.stderr, "migrate: subscriptions")
	subs, err := aud.Migrate(ctx, func(n int) error {
		report(fmt.Sprintf("%d subscriptions", n), false)
		return ctx.Err()
	})
	report(fmt.Sprintf("subscriptions: %d", subs), true)
	if err != nil {
		return fmt.Errorf("stopped (run it again to go on): %w", err)
	}
	// Every channel may have queued recipients: the service queues them again on its channels.
	senders := map[gateway.Channel]gateway.Sender{}
	for _, ch := range []gateway.Channel{gateway.Telegram, gateway.SMS, gateway.Terminal, gateway.Zalo, gateway.Web} {
		senders[ch] = noSender{}
	}
	svc := broadcast.New(conn.Client, aud, senders, nil, broadcast.Config{Communes: communes}, nil)
	fmt.Fprintln(env.stderr, "migrate: broadcasts")
	bcs, err := svc.Migrate(ctx, func(n int) error {
		report(fmt.Sprintf("%d broadcasts", n), false)
		return ctx.Err()
	})
	report(fmt.Sprintf("broadcasts: %d", bcs), true)
	if err != nil {
		return fmt.Errorf("stopped (run it again to go on): %w", err)
	}
	total := subs + bcs
	for _, n := range moved {
		total += n
	}
	if total == 0 {
		fmt.Fprintln(env.stdout, "migrate: nothing to migrate (the data is in the partitioned layout)")
		return nil
	}
	fmt.Fprintf(env.stdout, "migrate: done in %.1fs: %s, %d subscriptions, %d broadcasts\n", time.Since(start).Seconds(), describe(moved), subs, bcs)
	return nil
}

// describe lists migrated counts in a stable order.
func describe(m lookup.Migrated) string {
	if len(m) == 0 {
		return "nothing"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d %s", m[k], strings.ReplaceAll(k, "_", " "))
	}
	return strings.Join(parts, ", ")
}

// noSender stands for a channel during the migration, which queues and never sends.
type noSender struct{}

func (noSender) Send(context.Context, gateway.Outbound) error {
	return errors.New("migrate: does not send")
}

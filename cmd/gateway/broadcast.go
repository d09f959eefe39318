package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/socialaid-vn/gateway/broadcast"
)

// cmdBroadcast prints the delivery report of a broadcast, reminder or notification:
// `gateway broadcast report ID [--json]`. It reads Redis only; it needs REDIS_URL (the embedded
// Redis lives inside `gateway serve`). Exit status 1 when the id is unknown.
func cmdBroadcast(ctx context.Context, env *environ, args []string) error {
	if len(args) < 2 || args[0] != "report" {
		return fmt.Errorf("%w: want `report ID`", errUsage)
	}
	id, asJSON := "", false
	for _, a := range args[1:] {
		switch {
		case a == "--json":
			asJSON = true
		case strings.HasPrefix(a, "-"):
			return fmt.Errorf("%w: unknown flag %q", errUsage, a)
		case id == "":
			id = a
		default:
			return fmt.Errorf("%w: one ID only", errUsage)
		}
	}
	if id == "" {
		return fmt.Errorf("%w: missing ID", errUsage)
	}
	_, conn, err := offlineRedis(ctx, env, "broadcast report", embeddedOnlyInServe)
	if err != nil {
		return err
	}
	defer conn.Close()
	svc := broadcast.New(conn.Client, nil, nil, nil, broadcast.Config{}, nil)
	rep, err := svc.Report(ctx, id)
	if errors.Is(err, broadcast.ErrNotFound) {
		fmt.Fprintf(env.stderr, "gateway broadcast: %s: not found (unknown, or older than its retention)\n", id)
		return exitError{1}
	}
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	w := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "broadcast\t%s (%s)\n", rep.ID, rep.Kind)
	fmt.Fprintf(w, "status\t%s\n", rep.Status)
	fmt.Fprintf(w, "created\t%s\n", rep.Created.Format(time.RFC3339))
	if rep.SendAt != nil {
		fmt.Fprintf(w, "send at\t%s\n", rep.SendAt.Format(time.RFC3339))
	}
	if rep.Finished != nil {
		fmt.Fprintf(w, "finished\t%s\n", rep.Finished.Format(time.RFC3339))
	}
	fmt.Fprintf(w, "total\t%d\n", rep.Total)
	fmt.Fprintf(w, "sent\t%d\n", rep.Sent)
	fmt.Fprintf(w, "pending\t%d\n", rep.Pending)
	fmt.Fprintf(w, "failed\t%s\n", broadcast.CountList(rep.Failed))
	fmt.Fprintf(w, "skipped\t%s\n", broadcast.CountList(rep.Skipped))
	fmt.Fprintf(w, "resent after a crash\t%d\n", rep.Resent)
	fmt.Fprintf(w, "SMS segments (at creation)\t%d\n", rep.SMSSegments)
	return w.Flush()
}

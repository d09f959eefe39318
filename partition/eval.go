package partition

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// Call is one script invocation of a pipelined batch (typically one per partition).
type Call struct {
	Script *redis.Script
	Keys   []string
	Args   []any
}

// EvalAll runs the calls in one pipeline — pipe, after the commands already queued there (whose
// errors it also reports), or a new one when pipe is nil — and returns the scripts' replies in
// order. go-redis sends each master of a cluster its share in parallel. A node that does not
// know a script yet (a fresh server, a replica just promoted) gets it loaded and the call run
// again.
func EvalAll(ctx context.Context, rdb redis.UniversalClient, pipe redis.Pipeliner, calls []Call) ([]any, error) {
	if pipe == nil {
		pipe = rdb.Pipeline()
	}
	cmds := make([]*redis.Cmd, len(calls))
	for i, c := range calls {
		cmds[i] = c.Script.EvalSha(ctx, pipe, c.Keys, c.Args...)
	}
	all, _ := pipe.Exec(ctx)
	for _, c := range all[:len(all)-len(cmds)] {
		if err := c.Err(); err != nil {
			return nil, err
		}
	}
	out := make([]any, len(calls))
	for i, cmd := range cmds {
		v, err := cmd.Result()
		if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			v, err = calls[i].Script.Run(ctx, rdb, calls[i].Keys, calls[i].Args...).Result()
		}
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

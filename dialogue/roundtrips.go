package dialogue

// One message costs the conversation core two Redis round trips: everything it reads about the
// person (language, conversation state, a hand-off in progress) in one pipeline before, and
// everything it writes (state, a detected language, the supervision counts) in one pipeline
// after. On a Redis Cluster the pipeline goes to each node concerned at once.

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
)

// liveKeyer is a Cases that names the key of an address's live hand-off (cases.Service), so
// that it is read in the same pipeline as the rest.
type liveKeyer interface {
	LiveKey(ch gateway.Channel, addr string) string
}

// pipeStats is a Stats that can add its counts to a pipeline (stats.Recorder).
type pipeStats interface {
	AddTo(ctx context.Context, pipe redis.Pipeliner, metric, commune string, n int64)
}

// prefetch reads the person's language, conversation state and live hand-off in one pipeline.
func (e *Engine) prefetch(ctx context.Context, t *turn) (stored string, explicit bool, err error) {
	var (
		claimCmd         *redis.BoolCmd
		langCmd, convCmd *redis.StringCmd
		liveCmd          *redis.StringCmd
	)
	lk, hasLive := e.x.cases.(liveKeyer)
	err = e.batch.do(ctx, func(pipe redis.Pipeliner) {
		if o := t.in.Once; o != nil {
			claimCmd = pipe.SetNX(ctx, o.Key, "", o.Claim)
		}
		langCmd = pipe.Get(ctx, langKey(t.in))
		convCmd = pipe.Get(ctx, stateKey(t.in))
		if hasLive && e.x.cases != nil && t.in.Contact == nil {
			liveCmd = pipe.Get(ctx, lk.LiveKey(t.in.Channel, t.in.SenderID))
		}
	})
	if err != nil {
		return "", false, err
	}
	if claimCmd != nil && claimCmd.Err() != nil {
		return "", false, claimCmd.Err()
	}
	for _, c := range []*redis.StringCmd{langCmd, convCmd, liveCmd} {
		if c != nil && c.Err() != nil && !errors.Is(c.Err(), redis.Nil) {
			return "", false, c.Err()
		}
	}
	if claimCmd != nil {
		if err := claimCmd.Err(); err != nil {
			return "", false, err
		}
		if !claimCmd.Val() {
			return "", false, gateway.ErrClaimed
		}
		t.claimed = true
	}
	stored, explicit = parseLanguage(langCmd.Val())
	if raw := convCmd.Val(); raw != "" {
		if json.Unmarshal([]byte(raw), &t.st) != nil {
			t.st = state{} // a state written by an older version: start afresh rather than fail
			t.changed = true
		}
	}
	if liveCmd != nil {
		live := liveCmd.Val()
		t.live = &live
	}
	t.loaded = true
	return stored, explicit, nil
}

// commit writes what the turn changed and counts it, in one pipeline. A failure leaves the
// replies as they are (they were computed right): the state is not kept, and that is logged.
func (e *Engine) commit(ctx context.Context, t *turn, intent string) error {
	ps, pipelined := e.x.stats.(pipeStats)
	var raw []byte
	if t.changed && t.st != (state{}) {
		var err error
		if raw, err = json.Marshal(t.st); err != nil {
			return err
		}
	}
	var cmds []redis.Cmder
	err := e.batch.do(ctx, func(pipe redis.Pipeliner) {
		before := pipe.Len()
		e.commitTo(ctx, pipe, t, intent, raw, ps, pipelined)
		cmds = pipe.Cmds()[before:]
	})
	if !pipelined && e.x.stats != nil {
		e.countTurn(ctx, t, intent)
	}
	if err != nil {
		return err
	}
	for _, c := range cmds {
		if c.Err() != nil {
			return c.Err()
		}
	}
	return nil
}

// commitTo queues the turn's writes in pipe.
func (e *Engine) commitTo(ctx context.Context, pipe redis.Pipeliner, t *turn, intent string, raw []byte, ps pipeStats, pipelined bool) {
	if t.changed {
		if raw == nil {
			pipe.Del(ctx, stateKey(t.in))
		} else {
			pipe.Set(ctx, stateKey(t.in), raw, e.cfg.StateTTL)
		}
	}
	if t.setLang != "" {
		pipe.Set(ctx, langKey(t.in), t.setLang, langTTL)
	}
	if o := t.in.Once; o != nil && t.claimed {
		text := ""
		if o.Remember != nil {
			text = o.Remember(t.replies)
		}
		pipe.Set(ctx, o.Key, "1"+text, o.Keep)
	}
	if pipelined && e.x.stats != nil {
		ps.AddTo(ctx, pipe, "q:"+intent, t.st.Commune, 1)
		if intent == "unsubscribe" {
			ps.AddTo(ctx, pipe, "optouts:unsubscribed", t.st.Commune, 1)
		}
	}
}

// subscribedCommune is the commune of the person's subscription, remembered in the state for a
// while (subCacheTTL) so that every message does not ask Redis again.
func (e *Engine) subscribedCommune(ctx context.Context, t *turn) string {
	now := e.cfg.Now().Unix()
	if t.st.SubAt != 0 && now-t.st.SubAt < int64(subCacheTTL/time.Second) {
		return t.st.Sub
	}
	sub, err := e.subs.Get(ctx, t.in.Channel, t.in.SenderID)
	if err != nil {
		return ""
	}
	t.st.Sub, t.st.SubAt = "", now
	if sub != nil {
		t.st.Sub = sub.Commune
	}
	t.changed = true
	return t.st.Sub
}

// subCacheTTL is how long the commune of a subscription is remembered in the state.
const subCacheTTL = 10 * time.Minute

// HandlesOnce says that Handle honours gateway.Inbound.Once (sms.OnceHandler).
func (e *Engine) HandlesOnce() {}

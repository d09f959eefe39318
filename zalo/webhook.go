package zalo

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash/fnv"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/internal/spool"
	"github.com/socialaid-vn/gateway/metrics"
	"github.com/socialaid-vn/gateway/redisconn"
)

// MaxWebhookBody is the largest webhook body accepted (413 beyond it).
const MaxWebhookBody = 1 << 20

// SpoolEvents and SpoolBytes bound the events kept in memory while Redis is unreachable.
const (
	SpoolEvents = 10000
	SpoolBytes  = 32 << 20
)

// SignatureHeader carries "mac=<hex sha256>" on every webhook request.
const SignatureHeader = "X-ZEvent-Signature"

// Sign returns the X-ZEvent-Signature value Zalo sends with body:
// "mac=" + hex(sha256(appID + body + timestamp + oaSecretKey)), timestamp being the event's own.
func Sign(appID string, body []byte, timestamp, oaSecretKey string) string {
	h := sha256.New()
	h.Write([]byte(appID))
	h.Write(body)
	h.Write([]byte(timestamp))
	h.Write([]byte(oaSecretKey))
	return "mac=" + hex.EncodeToString(h.Sum(nil))
}

// Event is one webhook event, with the fields the channel uses.
type Event struct {
	AppID     string     `json:"app_id"`
	Name      string     `json:"event_name"`
	Timestamp flexString `json:"timestamp"`
	Sender    struct {
		ID flexString `json:"id"`
	} `json:"sender"`
	Recipient struct {
		ID flexString `json:"id"`
	} `json:"recipient"`
	// Follower is the user of follow/unfollow events.
	Follower struct {
		ID flexString `json:"id"`
	} `json:"follower"`
	Message struct {
		MsgID flexString `json:"msg_id"`
		Text  string     `json:"text"`
	} `json:"message"`
	// Info is what a user submitted in Zalo's "request user info" form (user_submit_info).
	Info struct {
		Phone flexString `json:"phone"`
	} `json:"info"`
}

// UserID is the user the event is about: the follower of follow/unfollow, the sender otherwise.
func (e *Event) UserID() string {
	if e.Name == "follow" || e.Name == "unfollow" {
		if id := string(e.Follower.ID); id != "" {
			return id
		}
	}
	return string(e.Sender.ID)
}

// handled reports whether the channel acts on an event of this name: what users send, follow,
// unfollow and the info form. Delivery receipts, the OA's own messages and anonymous chats
// (which need another API) are acknowledged and dropped.
func handled(name string) bool {
	switch name {
	case "follow", "unfollow", "user_submit_info":
		return true
	}
	return strings.HasPrefix(name, "user_send_")
}

// dedupeKey identifies an event for "handled once": the message id, or for events without one
// (follow, unfollow) the event, user and time.
func (e *Event) dedupeKey() string {
	if id := string(e.Message.MsgID); id != "" {
		return "m:" + id
	}
	return "e:" + e.Name + ":" + e.UserID() + ":" + string(e.Timestamp)
}

// at is when the event happened (Zalo's timestamp, milliseconds), or now when it is missing or
// implausible.
func (e *Event) at(now time.Time) time.Time {
	var ms int64
	for _, r := range string(e.Timestamp) {
		if r < '0' || r > '9' || ms > 1e15 {
			return now
		}
		ms = ms*10 + int64(r-'0')
	}
	t := time.UnixMilli(ms)
	if ms == 0 || t.After(now.Add(5*time.Minute)) || t.Before(now.Add(-replyTTL)) {
		return now
	}
	return t
}

// Keys of the inbound queue (one hash tag, so the enqueue script is atomic on a cluster).
const (
	shards     = 16
	keySeen    = "zalo:{zalo}:seen:"  // + dedupe key: "q" queued, "done" handled (48 h)
	keyQueue   = "zalo:{zalo}:q:"     // + shard: stream of events
	keyLease   = "zalo:{zalo}:lease:" // + shard: the replica working on it
	seenTTL    = 48 * time.Hour       // longer than Zalo retries a webhook
	idMaxBytes = 128
)

// enqueueScript queues an event unless its dedupe key was seen. KEYS seen, queue. ARGV ttl s,
// event JSON. Returns 1 queued, 0 duplicate.
var enqueueScript = redis.NewScript(`
if redis.call('SET', KEYS[1], 'q', 'NX', 'EX', ARGV[1]) then
  redis.call('XADD', KEYS[2], '*', 'e', ARGV[2])
  return 1
end
return 0
`)

func shardOf(user string) int {
	h := fnv.New32a()
	h.Write([]byte(user))
	return int(h.Sum32() % shards)
}

// WebhookHandler serves POST /zalo/webhook. It answers:
//   - 401 when X-ZEvent-Signature is missing or wrong, or the event is for another app;
//   - 413 for a body over 1 MiB, 400 for a body that is not a Zalo event;
//   - 500 when Redis cannot take the event (Zalo delivers it again);
//   - 200 otherwise, as soon as the event is queued (or recognised as a duplicate, or not one
//     the channel acts on). Handling happens after the answer (Run).
func (c *Channel) WebhookHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBody))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			} else {
				http.Error(w, "cannot read body", http.StatusBadRequest)
			}
			return
		}
		sig := strings.TrimSpace(r.Header.Get(SignatureHeader))
		if sig == "" {
			c.log.Warn("zalo webhook without signature rejected")
			http.Error(w, "missing signature", http.StatusUnauthorized)
			return
		}
		var ev Event
		if err := json.Unmarshal(body, &ev); err != nil || ev.Name == "" {
			http.Error(w, "not a Zalo event", http.StatusBadRequest)
			return
		}
		want := Sign(ev.AppID, body, string(ev.Timestamp), c.cfg.OASecretKey)
		if subtle.ConstantTimeCompare([]byte(strings.ToLower(sig)), []byte(want)) != 1 || ev.AppID != c.cfg.AppID {
			c.log.Warn("zalo webhook signature rejected", "event", ev.Name)
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		user := ev.UserID()
		if !handled(ev.Name) || user == "" || len(user) > idMaxBytes || len(ev.dedupeKey()) > 2*idMaxBytes {
			c.log.Debug("zalo event ignored", "event", ev.Name)
			w.WriteHeader(http.StatusOK)
			return
		}
		shard := shardOf(user)
		n, err := enqueueScript.Run(r.Context(), c.rdb, []string{keySeen + ev.dedupeKey(), keyQueue + strconv.Itoa(shard)},
			int(seenTTL/time.Second), string(body)).Int()
		if err != nil {
			// Redis is gone: kept in the local spool, queued when Redis is back (Zalo does
			// not reliably deliver a webhook again); a full spool answers 500.
			if redisconn.Unavailable(err) && c.spool.Add(strconv.Itoa(shard)+"|"+ev.dedupeKey(), body) {
				metrics.Spooled.WithLabelValues(string(gateway.Zalo)).Inc()
				c.log.Warn("zalo event spooled until Redis is back", "event", ev.Name, "err", err)
				w.WriteHeader(http.StatusOK)
				return
			}
			if redisconn.Unavailable(err) {
				metrics.SpoolDropped.WithLabelValues(string(gateway.Zalo)).Inc()
			}
			c.log.Error("zalo event not queued; Zalo will deliver it again", "event", ev.Name, "err", err)
			http.Error(w, "try again", http.StatusInternalServerError)
			return
		}
		if n == 0 {
			c.log.Info("zalo duplicate event skipped", "event", ev.Name, "msg_id", string(ev.Message.MsgID))
		} else {
			select {
			case c.wake[shard] <- struct{}{}:
			default:
			}
		}
		w.WriteHeader(http.StatusOK)
	})
}

// replaySpool queues the events spooled during a Redis outage, in order, once Redis is back.
func (c *Channel) replaySpool(ctx context.Context) {
	c.spool.Replay(ctx, time.Second, func(ctx context.Context, it spool.Item) error {
		shardStr, dedupe, _ := strings.Cut(it.Key, "|")
		shard, _ := strconv.Atoi(shardStr)
		n, err := enqueueScript.Run(ctx, c.rdb, []string{keySeen + dedupe, keyQueue + shardStr}, int(seenTTL/time.Second), string(it.Body)).Int()
		if err != nil {
			return err
		}
		if n == 1 {
			select {
			case c.wake[shard] <- struct{}{}:
			default:
			}
		}
		c.log.Info("zalo spooled event queued", "waited_ms", time.Since(it.At).Milliseconds())
		return nil
	})
}

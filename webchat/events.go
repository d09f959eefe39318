package webchat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/metrics"
	"github.com/socialaid-vn/gateway/throttle"
)

// Pushed is one message pushed to a session, the data of an SSE "message" event.
type Pushed struct {
	Text    string      `json:"text"`
	Choices []ChoiceOut `json:"choices,omitempty"`
	// Kind is what the message is: "broadcast", "notification", "reminder", a case answer...
	Kind string    `json:"kind,omitempty"`
	At   time.Time `json:"at"`
}

// Send pushes m to the web chat session m.To (gateway.Sender). The message is stored in the
// session's stream before Send returns nil, so it reaches the person when the page is open now
// or on their next visit within Config.Keep, through whichever replica they connect to.
//
// Errors are *gateway.SendError: Stopped "session_expired" when the session no longer exists
// (its cookie expired or was never issued: the message cannot reach anybody), Final for a
// malformed recipient or an empty message, Retryable when Redis fails. With m.Key set, a message
// already pushed under that key is not pushed again.
func (c *Channel) Send(ctx context.Context, m gateway.Outbound) error {
	err := c.send(ctx, m)
	if se := gateway.SendErrorOf(err); se != nil {
		metrics.SendErrors.WithLabelValues(string(gateway.Web), se.Kind.String()).Inc()
		c.log.Info("webchat push failed", "to", gateway.Mask(m.To), "kind", se.Kind.String(), "reason", se.Reason)
		return err
	}
	return nil
}

func (c *Channel) send(ctx context.Context, m gateway.Outbound) error {
	if m.Channel != "" && m.Channel != gateway.Web {
		return &gateway.SendError{Kind: gateway.Final, Reason: "wrong_channel", Err: fmt.Errorf("webchat cannot send on %q", m.Channel)}
	}
	if !ValidSenderID(m.To) {
		return &gateway.SendError{Kind: gateway.Final, Reason: "invalid_recipient", Err: errors.New("not a web chat session id")}
	}
	out := Render([]gateway.Reply{m.Reply})[0]
	if strings.TrimSpace(out.Text) == "" {
		return &gateway.SendError{Kind: gateway.Final, Reason: "empty", Err: errors.New("webchat: nothing to send")}
	}
	n, err := c.rdb.Exists(ctx, keySession+m.To).Result()
	if err != nil {
		return &gateway.SendError{Kind: gateway.Retryable, Reason: "redis", Err: err}
	}
	if n == 0 {
		return &gateway.SendError{Kind: gateway.Stopped, Reason: "session_expired"}
	}
	if err := c.limiter.Wait(ctx, m.Priority, throttle.Bucket{Name: "web", Limit: throttle.Window(c.cfg.MPS)}); err != nil {
		return &gateway.SendError{Kind: gateway.Retryable, Reason: "throttled", Err: err}
	}
	if m.Key != "" {
		ok, err := c.rdb.SetNX(ctx, keySent+m.Key, "1", sentTTL).Result()
		if err != nil {
			return &gateway.SendError{Kind: gateway.Retryable, Reason: "redis", Err: err}
		}
		if !ok {
			return nil // pushed already
		}
	}
	data, _ := json.Marshal(Pushed{Text: out.Text, Choices: out.Choices, Kind: m.Reply.Intent, At: time.Now().UTC()})
	key := keyEvents + m.To
	pipe := c.rdb.TxPipeline()
	pipe.XAdd(ctx, &redis.XAddArgs{Stream: key, MaxLen: MaxQueued, Approx: true, Values: []any{"d", data}})
	pipe.Expire(ctx, key, c.cfg.Keep)
	if _, err := pipe.Exec(ctx); err != nil {
		if m.Key != "" {
			c.rdb.Del(context.WithoutCancel(ctx), keySent+m.Key)
		}
		return &gateway.SendError{Kind: gateway.Retryable, Reason: "redis", Err: err}
	}
	c.wake(m.To)
	if err := c.rdb.Publish(ctx, notifyChan, m.To).Err(); err != nil {
		// Stored all the same: the stream's poll delivers it within Config.Poll.
		c.log.Warn("webchat publish", "err", err)
	}
	return nil
}

// Shutdown ends every event stream of this replica (the browsers reconnect, to another replica
// or after the restart), so a graceful stop of the HTTP server does not wait for them. Use it as
// http.Server.RegisterOnShutdown.
func (c *Channel) Shutdown() {
	c.closeOnce.Do(func() { close(c.closing) })
}

// Run listens for pushes made by any replica and wakes this replica's streams of those sessions,
// until ctx ends. Without it, streams still see new messages within Config.Poll.
func (c *Channel) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		sub := c.rdb.Subscribe(ctx, notifyChan)
		ch := sub.Channel(redis.WithChannelHealthCheckInterval(30 * time.Second))
	recv:
		for {
			select {
			case <-ctx.Done():
				break recv
			case msg, ok := <-ch:
				if !ok {
					break recv
				}
				c.wake(msg.Payload)
			}
		}
		_ = sub.Close()
		if ctx.Err() == nil {
			c.log.Warn("webchat: push notifications interrupted; resubscribing")
			c.wakeAll() // catch up on anything published while away
			t := time.NewTimer(time.Second)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
	}
	return nil
}

func (c *Channel) wake(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for w := range c.waiters[id] {
		select {
		case w <- struct{}{}:
		default:
		}
	}
}

func (c *Channel) wakeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ws := range c.waiters {
		for w := range ws {
			select {
			case w <- struct{}{}:
			default:
			}
		}
	}
}

// register adds a stream of session id; it fails when the session has MaxStreams already.
func (c *Channel) register(id string) (chan struct{}, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.waiters[id]) >= MaxStreams {
		return nil, false
	}
	w := make(chan struct{}, 1)
	if c.waiters[id] == nil {
		c.waiters[id] = map[chan struct{}]bool{}
	}
	c.waiters[id][w] = true
	return w, true
}

func (c *Channel) unregister(id string, w chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.waiters[id], w)
	if len(c.waiters[id]) == 0 {
		delete(c.waiters, id)
	}
}

// Connected reports how many event streams of session id this replica holds (for tests and
// the console's figures).
func (c *Channel) Connected(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters[id])
}

// events serves GET /webchat/api/events: the messages pushed to the session as Server-Sent
// Events, "id" being the stream entry id. A new connection starts after the last event a
// connection of this session received (or after Last-Event-ID when the browser resumes), so a message
// pushed while no page was open arrives on the next visit, once.
func (c *Channel) events(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	s, err := c.session(w, r)
	if err != nil {
		c.log.Error("webchat session", "err", err)
		writeError(w, http.StatusServiceUnavailable, "storage unavailable, try again")
		return
	}
	wake, ok := c.register(s.id)
	if !ok {
		writeError(w, http.StatusTooManyRequests, "too many open chat windows")
		return
	}
	defer c.unregister(s.id, wake)
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{}) // the server's ReadTimeout must not end the stream
	cursor, err := c.rdb.HGet(ctx, keySession+s.id, "acked").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		writeError(w, http.StatusServiceUnavailable, "storage unavailable, try again")
		return
	}
	if last := r.Header.Get("Last-Event-ID"); validEntryID(last) {
		cursor = last // the browser knows what it has shown
	}
	if cursor == "" {
		cursor = "0-0"
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	write := func(s string) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := w.Write([]byte(s)); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !write("retry: 3000\n: connected\n\n") {
		return
	}
	poll := time.NewTicker(c.cfg.Poll)
	defer poll.Stop()
	end := time.NewTimer(c.cfg.StreamMax)
	defer end.Stop()
	key := keyEvents + s.id
	for {
		res, err := c.rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{key, cursor}, Count: 50, Block: -1}).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			if ctx.Err() != nil {
				return
			}
			c.log.Warn("webchat events read", "err", err)
		}
		sent := 0
		for _, st := range res {
			for _, m := range st.Messages {
				d, _ := m.Values["d"].(string)
				if !write("id: " + m.ID + "\nevent: message\ndata: " + d + "\n\n") {
					return
				}
				cursor = m.ID
				sent++
			}
		}
		if sent > 0 {
			// Best effort: a later connection starts after what this one delivered.
			bg := context.WithoutCancel(ctx)
			c.rdb.HSet(bg, keySession+s.id, "acked", cursor)
			if sent == 50 {
				continue
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-end.C:
			write("event: reconnect\ndata: {}\n\n")
			return
		case <-c.closing:
			write("event: reconnect\ndata: {}\n\n") // the browser comes back to another replica
			return
		case <-wake:
		case <-poll.C:
			if !write(": ping\n\n") {
				return
			}
		}
	}
}

// validEntryID accepts a Redis stream id ("1700000000000-0").
func validEntryID(id string) bool {
	ms, seq, ok := strings.Cut(id, "-")
	if !ok || ms == "" || seq == "" || len(id) > 41 {
		return false
	}
	for _, r := range ms + seq {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

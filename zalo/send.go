package zalo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/metrics"
)

// Redis keys of the sender.
const (
	keySent    = "zalo:{zalo}:sent:"    // + Outbound.Key + part: "sending" or "sent"
	keyPhone   = "zalo:{zalo}:phone:"   // + user id: phone (84xxxxxxxxx) the user submitted, for ZNS
	keyChoices = "zalo:{zalo}:choices:" // + user id: JSON payloads of the last numbered list
	keyLang    = "zalo:{zalo}:lang:"    // + user id: language of the last answer
	sentTTL    = 7 * 24 * time.Hour
	sendingTTL = 2 * time.Minute
	phoneTTL   = 400 * 24 * time.Hour
	choicesTTL = time.Hour
)

// Zalo API error codes the sender acts on (the "error" field of an answer).
const (
	codeTokenInvalid = -216 // access token invalid
	codeTokenExpired = -220 // access token expired or removed
	codeThrottled    = -32  // the app called the API too often
)

// Send delivers m to the Zalo user m.To (the user's id for this OA). It is the one outbound
// path — replies, case answers, broadcasts, notifications — so the shared rate limit and the
// reply window hold for all of them.
//
// A reply too long for one message is sent as several, each counted in the reply window
// (48 hours after the user's last message, 8 messages). When they do not fit the window, the
// message goes as a ZNS template if one is configured for m.Reply.Intent and the user's phone
// is known, and otherwise fails Final "outside_reply_window" (nothing is sent, nothing is lost
// silently: the broadcast report counts it). Bulk messages (Priority false) are not sent to
// users stopped in the audience (they unfollowed the OA).
//
// Errors are *gateway.SendError: Retryable (throttled -32 after the retries here, network
// before the request was written, Zalo 5xx, no access token), Stopped (the user does not
// follow the OA, is inactive or restricted this OA), Final (outside the window, out of quota,
// bad request) or Unknown (the request may have reached Zalo: never resent here). With m.Key
// set, a part already sent under that key is not sent again.
func (c *Channel) Send(ctx context.Context, m gateway.Outbound) error {
	return c.sendAs(ctx, m, false)
}

// sendAs is Send; proactive sends outside the reply window, as a message to a follower that
// counts against the OA's proactive quota (only the greeting after a follow does that).
func (c *Channel) sendAs(ctx context.Context, m gateway.Outbound, proactive bool) error {
	err := c.send(ctx, m, proactive)
	intent := m.Reply.Intent
	if intent == "" {
		intent = "outbound"
	}
	if se := gateway.SendErrorOf(err); se != nil {
		metrics.SendErrors.WithLabelValues(string(gateway.Zalo), se.Kind.String()).Inc()
		c.log.Info("zalo outbound failed", "user", maskID(m.To), "intent", intent, "kind", se.Kind.String(), "reason", se.Reason)
		return err
	}
	if err != nil {
		se := &gateway.SendError{Kind: gateway.Unknown, Reason: "internal", Err: err}
		metrics.SendErrors.WithLabelValues(string(gateway.Zalo), se.Kind.String()).Inc()
		return se
	}
	return nil
}

func validUser(id string) bool {
	if id == "" || len(id) > 40 {
		return false
	}
	for _, r := range id {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func (c *Channel) send(ctx context.Context, m gateway.Outbound, proactive bool) error {
	if m.Channel != "" && m.Channel != gateway.Zalo {
		return &gateway.SendError{Kind: gateway.Final, Reason: "wrong_channel", Err: fmt.Errorf("not a Zalo message: %s", m.Channel)}
	}
	user := strings.TrimSpace(m.To)
	if !validUser(user) {
		return &gateway.SendError{Kind: gateway.Final, Reason: "invalid_recipient", Err: errors.New("not a Zalo user id")}
	}
	if !m.Priority && c.stops != nil {
		stopped, err := c.stops.Stopped(ctx, gateway.Zalo, user)
		if err != nil {
			return &gateway.SendError{Kind: gateway.Retryable, Reason: "storage", Err: err}
		}
		if stopped {
			return &gateway.SendError{Kind: gateway.Stopped, Reason: "unfollowed", Err: errors.New("the user unfollowed the OA")}
		}
	}
	lang := m.Lang
	if lang == "" {
		lang = c.langOf(ctx, user)
	}
	msgs, numbered := c.render(lang, m.Reply)
	if len(msgs) == 0 {
		return &gateway.SendError{Kind: gateway.Final, Reason: "empty", Err: errors.New("reply has no text")}
	}
	reserved, msgID := 0, ""
	if !proactive {
		ok, id, why, err := c.reserve(ctx, user, len(msgs))
		if err != nil {
			return &gateway.SendError{Kind: gateway.Retryable, Reason: "storage", Err: err}
		}
		if !ok {
			return c.outsideWindow(ctx, user, m, why)
		}
		reserved, msgID = len(msgs), id
	}
	giveBack := func(n int) {
		if reserved > 0 {
			c.giveBack(ctx, user, n)
		}
	}
	if m.Priority {
		c.rememberChoices(ctx, user, numbered)
	}
	for i, msg := range msgs {
		key := ""
		if m.Key != "" {
			key = m.Key + ":" + strconv.Itoa(i)
		}
		sent, err := c.sendPart(ctx, user, msgID, msg, m.Priority, key)
		if err != nil {
			se := gateway.SendErrorOf(err)
			left := len(msgs) - i
			if se != nil && se.Kind == gateway.Unknown {
				left-- // that one may have gone out
			}
			giveBack(left)
			if se != nil && se.Kind == gateway.Stopped && c.stops != nil {
				if err := c.stops.Stop(context.WithoutCancel(ctx), gateway.Zalo, user, se.Reason); err != nil {
					c.log.Error("zalo: cannot record a stopped user", "user", maskID(user), "err", err)
				}
			}
			return err
		}
		if !sent {
			giveBack(1) // sent before under this key
			continue
		}
	}
	return nil
}

func intentOr(s string) string {
	if s == "" {
		return "other"
	}
	return s
}

// outsideWindow sends m as a ZNS template when that is configured and possible, else fails.
func (c *Channel) outsideWindow(ctx context.Context, user string, m gateway.Outbound, why string) error {
	outside := &gateway.SendError{Kind: gateway.Final, Reason: reasonOutsideWindow, Err: errors.New(why)}
	tmpl := c.cfg.ZNSTemplates[m.Reply.Intent]
	if tmpl == "" {
		return outside
	}
	phone, err := c.rdb.Get(ctx, keyPhone+user).Result()
	if errors.Is(err, redis.Nil) || phone == "" {
		outside.Err = errors.New(why + "; no phone known for ZNS")
		return outside
	}
	if err != nil {
		return &gateway.SendError{Kind: gateway.Retryable, Reason: "storage", Err: err}
	}
	key := ""
	if m.Key != "" {
		key = "zns:" + m.Key
	}
	if _, err := c.sendZNS(ctx, phone, tmpl, m.Reply.Params, m.Priority, key); err != nil {
		return err
	}
	c.log.Info("zalo: sent as ZNS (outside the reply window)", "user", maskID(user), "intent", m.Reply.Intent)
	return nil
}

// sendPart sends one message, at most once per key. sent is false when the key was sent before.
func (c *Channel) sendPart(ctx context.Context, user, msgID string, msg message, prio bool, key string) (sent bool, err error) {
	if key != "" {
		done, err := c.claim(ctx, key)
		if err != nil || done {
			return false, err
		}
	}
	recipient := map[string]string{"user_id": user}
	if msgID != "" {
		// A reply names the user's message: Zalo counts it as a free reply, not a proactive one.
		recipient["message_id"] = msgID
	}
	body := map[string]any{"recipient": recipient, "message": msg}
	_, err = c.call(ctx, c.cfg.APIURL+"/v3.0/oa/message/cs", body, prio)
	if key != "" {
		bg := context.WithoutCancel(ctx)
		if se := gateway.SendErrorOf(err); err == nil || se != nil && se.Kind == gateway.Unknown {
			// Sent, or maybe sent: never again under this key.
			c.rdb.Set(bg, keySent+key, "sent", sentTTL)
		} else {
			c.rdb.Del(bg, keySent+key)
		}
	}
	return err == nil, err
}

// claim reserves an idempotency key; done is true when it was sent already.
func (c *Channel) claim(ctx context.Context, key string) (done bool, err error) {
	ok, err := c.rdb.SetNX(ctx, keySent+key, "sending", sendingTTL).Result()
	if err != nil {
		return false, &gateway.SendError{Kind: gateway.Retryable, Reason: "storage", Err: err}
	}
	if ok {
		return false, nil
	}
	v, err := c.rdb.Get(ctx, keySent+key).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return c.claim(ctx, key)
	case err != nil:
		return false, &gateway.SendError{Kind: gateway.Retryable, Reason: "storage", Err: err}
	case v == "sent":
		return true, nil
	}
	return false, &gateway.SendError{Kind: gateway.Retryable, Reason: "in_flight", RetryAfter: time.Second,
		Err: errors.New("the same message is being sent by another worker")}
}

// sendZNS sends a ZNS template message to phone (84xxxxxxxxx) with tracking id key.
func (c *Channel) sendZNS(ctx context.Context, phone, template string, params map[string]string, prio bool, key string) (string, error) {
	if key != "" {
		done, err := c.claim(ctx, key)
		if err != nil || done {
			return "", err
		}
	}
	if params == nil {
		params = map[string]string{}
	}
	body := map[string]any{"phone": phone, "template_id": template, "template_data": params}
	if key != "" {
		body["tracking_id"] = key
	}
	ans, err := c.call(ctx, c.cfg.ZNSURL+"/message/template", body, prio)
	if key != "" {
		bg := context.WithoutCancel(ctx)
		if se := gateway.SendErrorOf(err); err == nil || se != nil && se.Kind == gateway.Unknown {
			c.rdb.Set(bg, keySent+key, "sent", sentTTL)
		} else {
			c.rdb.Del(bg, keySent+key)
		}
	}
	if se := gateway.SendErrorOf(err); se != nil && se.Kind == gateway.Final && strings.HasPrefix(se.Reason, "zalo_") {
		se.Reason = "zns_rejected"
	}
	return string(ans.Data.MsgID), err
}

// answer is the OA API's answer.
type answer struct {
	Error   int    `json:"error"`
	Message string `json:"message"`
	Data    struct {
		MessageID flexString `json:"message_id"`
		MsgID     flexString `json:"msg_id"`
	} `json:"data"`
}

// call posts body to an OA API endpoint with the access token, waiting for the shared rate limit,
// refreshing the token once on -216/-220 and retrying -32 with a pause that every replica
// observes.
func (c *Channel) call(ctx context.Context, endpoint string, body any, prio bool) (answer, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return answer{}, &gateway.SendError{Kind: gateway.Final, Reason: "bad_request", Err: err}
	}
	refreshed := false
	var last *gateway.SendError
	for attempt := 0; attempt < c.attempts; attempt++ {
		if err := c.lim.Wait(ctx, prio, c.bucket); err != nil {
			return answer{}, &gateway.SendError{Kind: gateway.Retryable, Reason: "not_sent", Err: err}
		}
		tok, err := c.tok.Access(ctx)
		if err != nil {
			return answer{}, &gateway.SendError{Kind: gateway.Retryable, Reason: "token_unavailable", Err: err}
		}
		ans, se := c.post(ctx, endpoint, tok, raw)
		if se == nil {
			switch ans.Error {
			case 0:
				return ans, nil
			case codeTokenInvalid, codeTokenExpired:
				if refreshed {
					return ans, &gateway.SendError{Kind: gateway.Retryable, Reason: "token_invalid", Err: fmt.Errorf("zalo error %d after a refresh: %s", ans.Error, ans.Message)}
				}
				refreshed = true
				if _, err := c.tok.Invalidate(ctx, tok); err != nil {
					return ans, &gateway.SendError{Kind: gateway.Retryable, Reason: "token_invalid", Err: err}
				}
				attempt-- // the retry after a refresh is not one of the throttling tries
				continue
			case codeThrottled:
				se = &gateway.SendError{Kind: gateway.Retryable, Reason: "throttled", RetryAfter: c.backoff << attempt,
					Err: fmt.Errorf("zalo error -32: %s", ans.Message)}
				if err := c.lim.Pause(ctx, c.bucket.Name, se.RetryAfter); err != nil {
					c.log.Warn("zalo: throttle pause not shared", "err", err)
				}
				c.log.Warn("zalo: throttled by Zalo (-32), pausing every sender", "pause", se.RetryAfter)
				last = se
				continue // Wait honours the pause
			default:
				return ans, classify(ans)
			}
		}
		last = se
		if se.Kind != gateway.Retryable {
			return ans, se
		}
		if attempt+1 < c.attempts && !sleep(ctx, c.backoff<<attempt) {
			break
		}
	}
	return answer{}, last
}

// classify maps a Zalo error answer to the send-error vocabulary.
func classify(a answer) *gateway.SendError {
	err := fmt.Errorf("zalo error %d: %s", a.Error, a.Message)
	switch a.Error {
	case -213:
		return &gateway.SendError{Kind: gateway.Stopped, Reason: "not_following", Err: err}
	case -227:
		return &gateway.SendError{Kind: gateway.Stopped, Reason: "inactive", Err: err}
	case -244:
		return &gateway.SendError{Kind: gateway.Stopped, Reason: "restricted", Err: err}
	case -230, -232:
		return &gateway.SendError{Kind: gateway.Final, Reason: reasonOutsideWindow, Err: err}
	case -211, -218:
		return &gateway.SendError{Kind: gateway.Final, Reason: "out_of_quota", Err: err}
	case -201, -210, -233:
		return &gateway.SendError{Kind: gateway.Final, Reason: "bad_request", Err: err}
	case -204, -205, -209, -212, -219, -221, -223, -224:
		return &gateway.SendError{Kind: gateway.Final, Reason: "oa_not_allowed", Err: err}
	}
	return &gateway.SendError{Kind: gateway.Final, Reason: "zalo_" + strconv.Itoa(-a.Error), Err: err}
}

// post makes one request and tells precisely whether a failure may have reached Zalo.
func (c *Channel) post(ctx context.Context, endpoint, token string, raw []byte) (answer, *gateway.SendError) {
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var wrote atomic.Bool
	cctx = httptrace.WithClientTrace(cctx, &httptrace.ClientTrace{WroteRequest: func(info httptrace.WroteRequestInfo) {
		if info.Err == nil {
			wrote.Store(true)
		}
	}})
	req, err := http.NewRequestWithContext(cctx, http.MethodPost, endpoint, bytes.NewReader(raw))
	if err != nil {
		return answer{}, &gateway.SendError{Kind: gateway.Final, Reason: "bad_request", Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("access_token", token)
	resp, err := c.hc.Do(req)
	if err != nil {
		var ne net.Error
		switch {
		case !wrote.Load():
			return answer{}, &gateway.SendError{Kind: gateway.Retryable, Reason: "network", Err: err}
		case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
			return answer{}, &gateway.SendError{Kind: gateway.Unknown, Reason: "timeout", Err: err}
		}
		return answer{}, &gateway.SendError{Kind: gateway.Unknown, Reason: "network", Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return answer{}, &gateway.SendError{Kind: gateway.Retryable, Reason: "throttled", RetryAfter: time.Second, Err: fmt.Errorf("HTTP %d", resp.StatusCode)}
	case resp.StatusCode >= 500:
		return answer{}, &gateway.SendError{Kind: gateway.Retryable, Reason: "provider_error", Err: fmt.Errorf("HTTP %d", resp.StatusCode)}
	case err != nil:
		return answer{}, &gateway.SendError{Kind: gateway.Unknown, Reason: "bad_response", Err: err}
	}
	var a answer
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if jerr := json.Unmarshal(body, &a); jerr != nil {
		if resp.StatusCode >= 400 {
			return answer{}, &gateway.SendError{Kind: gateway.Final, Reason: "http_" + strconv.Itoa(resp.StatusCode), Err: fmt.Errorf("HTTP %d (%s)", resp.StatusCode, mt)}
		}
		return answer{}, &gateway.SendError{Kind: gateway.Unknown, Reason: "bad_response", Err: jerr}
	}
	return a, nil
}

// rememberChoices keeps the payloads of a numbered list for an hour, so that "2" picks the second;
// any other answer clears them, so a number written later (an age, a code) is never taken for a
// choice.
func (c *Channel) rememberChoices(ctx context.Context, user string, numbered []string) {
	bg := context.WithoutCancel(ctx)
	if len(numbered) == 0 {
		c.rdb.Del(bg, keyChoices+user)
		return
	}
	raw, _ := json.Marshal(numbered)
	c.rdb.Set(bg, keyChoices+user, raw, choicesTTL)
}

// langOf is the language of the channel's own texts for a user: the one of the last answer.
func (c *Channel) langOf(ctx context.Context, user string) string {
	if v, err := c.rdb.Get(ctx, keyLang+user).Result(); err == nil && (v == "vi" || v == "en") {
		return v
	}
	return c.cfg.DefaultLang
}

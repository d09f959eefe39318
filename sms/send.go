package sms

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/metrics"
	"github.com/socialaid-vn/gateway/throttle"
)

// Send delivers m as one SMS (gateway.Sender). See SendMessage.
func (c *Channel) Send(ctx context.Context, m gateway.Outbound) error {
	_, err := c.SendMessage(ctx, m)
	return err
}

// SendMessage renders m.Reply like an inline reply (same budget and alphabet) and sends it
// through the outbound transport (Config.Outbound), returning the message id whose delivery
// Delivery tracks. Every failure is a *gateway.SendError:
//
//   - Stopped "opted_out": the number opted out (checked before sending, or reported by the
//     provider, which is then recorded through OptOuts.Stop). Nothing is sent.
//   - Final: no outbound transport, not a phone number, nothing to send, or the provider refused
//     the message for good.
//   - Retryable: the provider proved it did not take the message (throttled, temporary failure,
//     connection refused). SendMessage itself retries such errors (Config.Retry: 3 tries with
//     exponential backoff, honouring Retry-After, which also pauses the shared rate limit), then
//     returns the last one; the caller may try again later.
//   - Unknown: the provider may have taken the message (a timeout after the request was
//     written). It is not retried, and the caller must not resend blindly.
//
// The rate limit (Config.MPS) is shared by all replicas and all transports; m.Priority goes
// ahead of bulk sends. When m.Key is set, a message is sent at most once per key for a week:
// sending a key already sent returns its message id without sending again, and sending a key
// whose earlier send ended Unknown returns Unknown "in_doubt" again rather than risk a second SMS.
func (c *Channel) SendMessage(ctx context.Context, m gateway.Outbound) (string, error) {
	if m.Channel != "" && m.Channel != gateway.SMS {
		return "", c.failed(m, &gateway.SendError{Kind: gateway.Final, Reason: "wrong_channel", Err: fmt.Errorf("sms cannot send on %q", m.Channel)})
	}
	if m.Reply.Whole {
		return c.sendParts(ctx, m)
	}
	body := Render([]gateway.Reply{m.Reply}, c.render)
	return c.sendMessage(ctx, m, body, true)
}

// sendMessage sends body, already rendered, to m.To; consent is checked when checkConsent.
func (c *Channel) sendMessage(ctx context.Context, m gateway.Outbound, body string, checkConsent bool) (string, error) {
	id, err := c.send(ctx, m, body, checkConsent)
	if err != nil {
		return "", c.failed(m, err)
	}
	return id, nil
}

func (c *Channel) failed(m gateway.Outbound, err error) error {
	if se := gateway.SendErrorOf(err); se != nil {
		metrics.SendErrors.WithLabelValues(string(gateway.SMS), se.Kind.String()).Inc()
		c.log.Warn("sms outbound failed", "to", MaskPhone(m.To), "intent", labelOr(m.Reply.Intent, "outbound"),
			"kind", se.Kind.String(), "reason", se.Reason)
	}
	return err
}

// The marks kept under sms:out:<key>: a send in progress (expires quickly, so a sender that died
// mid-send does not block the message for good), a send whose outcome is unknown (kept for
// outboundTTL: it may have been delivered), or the message id once the provider accepted it.
const (
	claimPending = "pending"
	claimInDoubt = "in_doubt"
	inflightTTL  = 20 * time.Second // longer than one Submit (the transports time out at 15 s)
)

func (c *Channel) send(ctx context.Context, m gateway.Outbound, body string, checkConsent bool) (string, error) {
	out := c.cfg.Outbound
	if out == nil {
		return "", &gateway.SendError{Kind: gateway.Final, Reason: "not_configured", Err: errors.New("sms: no outbound transport (SMS_OUTBOUND)")}
	}
	to, err := NormalizePhone(m.To)
	if err != nil {
		return "", &gateway.SendError{Kind: gateway.Final, Reason: "invalid_number", Err: err}
	}
	if checkConsent {
		stopped, err := c.optouts.Stopped(ctx, gateway.SMS, to)
		if err != nil {
			return "", &gateway.SendError{Kind: gateway.Retryable, Reason: "optout_check", Err: err}
		}
		if stopped {
			return "", &gateway.SendError{Kind: gateway.Stopped, Reason: "opted_out"}
		}
	}
	if body == "" {
		return "", &gateway.SendError{Kind: gateway.Final, Reason: "empty", Err: errors.New("sms: nothing to send")}
	}
	segs, enc := Segments(body)

	settler, _ := out.(Settler)
	var claim string
	if m.Key != "" {
		claim = keyOutbound + m.Key
		ok, err := c.rdb.SetNX(ctx, claim, claimPending, inflightTTL).Result()
		if err != nil {
			return "", &gateway.SendError{Kind: gateway.Retryable, Reason: "redis", Err: err}
		}
		if !ok {
			prev, err := c.rdb.Get(ctx, claim).Result()
			switch {
			case err != nil && !errors.Is(err, redis.Nil):
				return "", &gateway.SendError{Kind: gateway.Retryable, Reason: "redis", Err: err}
			case prev == claimInDoubt:
				return "", &gateway.SendError{Kind: gateway.Unknown, Reason: "in_doubt",
					Err: errors.New("sms: an earlier send with this key may have been delivered")}
			case strings.HasPrefix(prev, claimInDoubt+":"):
				id, resend, err := c.settle(ctx, out, settler, claim, strings.TrimPrefix(prev, claimInDoubt+":"))
				if err != nil || !resend {
					return id, err
				}
				// Proven lost: the claim is pending again, and this sender sends it.
			case prev == claimPending:
				// Another sender is on it, or one died mid-send: the mark expires within
				// inflightTTL, after which the message may be sent (a crash counts as in flight).
				wait, _ := c.rdb.PTTL(ctx, claim).Result()
				return "", &gateway.SendError{Kind: gateway.Retryable, Reason: "in_flight", RetryAfter: max(wait, time.Second)}
			case prev != "":
				c.log.Info("sms outbound already sent", "to", MaskPhone(to), "sid", prev)
				return prev, nil
			default:
				return "", &gateway.SendError{Kind: gateway.Retryable, Reason: "in_flight"}
			}
		}
	}
	release := func() {
		if claim != "" {
			c.rdb.Del(context.WithoutCancel(ctx), claim)
		}
	}

	bucket := throttle.Bucket{Name: "sms", Limit: throttle.Window(c.cfg.MPS)}
	msg := Message{To: to, Text: body, Encoding: enc, Segments: segs}
	var last *gateway.SendError
	for attempt := 1; ; attempt++ {
		if err := c.limiter.Wait(ctx, m.Priority, bucket); err != nil {
			release()
			return "", &gateway.SendError{Kind: gateway.Retryable, Reason: "rate_limit_wait", Err: err}
		}
		if claim != "" {
			// Keep the in-flight mark alive while this sender is still trying.
			c.rdb.PExpire(ctx, claim, inflightTTL)
		}
		sub, err := out.Submit(ctx, msg)
		if err == nil {
			if sub.ID == "" {
				err = &gateway.SendError{Kind: gateway.Unknown, Reason: "bad_response", Err: errors.New("sms: accepted without a message id")}
			}
		}
		if err == nil {
			if claim != "" {
				if err := c.rdb.Set(context.WithoutCancel(ctx), claim, sub.ID, outboundTTL).Err(); err != nil {
					c.log.Warn("sms outbound key not recorded", "sid", sub.ID, "err", err)
				}
			}
			if err := c.recordStatus(context.WithoutCancel(ctx), sub.ID, labelOr(sub.Status, "queued"), "", m.Key); err != nil {
				c.log.Warn("sms delivery not recorded", "sid", sub.ID, "err", err)
			}
			c.log.Info("sms outbound", "transport", out.Name(), "to", MaskPhone(to), "sid", sub.ID, "intent", m.Reply.Intent,
				"segments", segs, "encoding", enc.String(), "attempt", attempt)
			return sub.ID, nil
		}
		se := gateway.SendErrorOf(err)
		if se == nil {
			se = &gateway.SendError{Kind: gateway.Unknown, Reason: "error", Err: err}
		}
		last = se
		switch se.Kind {
		case gateway.Stopped:
			if err := c.optouts.Stop(context.WithoutCancel(ctx), gateway.SMS, to, "opted_out"); err != nil {
				c.log.Error("sms opt-out not recorded", "to", MaskPhone(to), "err", err)
			}
			release()
			return "", se
		case gateway.Unknown:
			// The message may have gone out: never send this key again on our own — unless
			// the transport's reports later prove it was not taken (Settler).
			if claim == "" {
				return "", se
			}
			bg := context.WithoutCancel(ctx)
			if settler == nil || sub.ID == "" {
				c.rdb.Set(bg, claim, claimInDoubt, outboundTTL)
				return "", se
			}
			if err := c.recordStatus(bg, sub.ID, "unknown", "", m.Key); err != nil {
				c.log.Warn("sms delivery not recorded", "sid", sub.ID, "err", err)
			}
			c.rdb.Set(bg, claim, claimInDoubt+":"+sub.ID, outboundTTL)
			c.log.Warn("sms outbound in doubt; waiting for the provider's reports", "transport", out.Name(), "to", MaskPhone(to),
				"sid", sub.ID, "reason", se.Reason)
			return "", &gateway.SendError{Kind: gateway.Retryable, Reason: "in_doubt", RetryAfter: settler.SettleAfter(), Err: se}
		case gateway.Final:
			release()
			return "", se
		}
		if se.Reason == "throttled" && se.RetryAfter > 0 {
			if err := c.limiter.Pause(ctx, bucket.Name, se.RetryAfter); err != nil {
				c.log.Warn("sms throttle pause failed", "err", err)
			}
		}
		wait := c.retry.Backoff << (attempt - 1)
		wait += time.Duration(rand.Int64N(int64(wait)/5 + 1))
		if se.RetryAfter > 0 {
			wait = se.RetryAfter
		}
		if attempt >= c.retry.Attempts || wait > c.retry.MaxBackoff {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			release()
			return "", last
		case <-t.C:
		}
	}
	release()
	return "", last
}

// settle decides a keyed send whose earlier attempt ended in doubt (attempt id), for a transport
// whose reports settle doubts. A report for id means the provider took it: the key counts as
// sent (id is returned). Reports for messages submitted more than SettleAfter after it, and none
// for it, mean the provider does not hold it: the claim goes back to pending and resend is true.
// Otherwise it is still in doubt: Retryable "in_doubt", to be asked again later.
func (c *Channel) settle(ctx context.Context, out Transport, settler Settler, claim, id string) (string, bool, error) {
	inDoubt := &gateway.SendError{Kind: gateway.Unknown, Reason: "in_doubt",
		Err: errors.New("sms: an earlier send with this key may have been delivered")}
	if settler == nil {
		return "", false, inDoubt
	}
	wait := settler.SettleAfter()
	h, err := c.rdb.HMGet(ctx, keyMessage+id, "rank", "at").Result()
	if err != nil {
		return "", false, &gateway.SendError{Kind: gateway.Retryable, Reason: "redis", Err: err}
	}
	rank, _ := strconv.Atoi(str(h[0]))
	at, _ := strconv.ParseInt(str(h[1]), 10, 64)
	if rank >= statusRank["sent"] {
		c.rdb.Set(context.WithoutCancel(ctx), claim, id, outboundTTL)
		c.log.Info("sms outbound doubt settled: the provider had it", "transport", out.Name(), "sid", id)
		return id, false, nil
	}
	confirmed, err := c.rdb.Get(ctx, keyConfirmed+out.Name()).Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return "", false, &gateway.SendError{Kind: gateway.Retryable, Reason: "redis", Err: err}
	}
	if at == 0 || confirmed <= at+wait.Milliseconds() {
		return "", false, &gateway.SendError{Kind: gateway.Retryable, Reason: "in_doubt", RetryAfter: wait,
			Err: errors.New("sms: waiting for the provider's reports to settle an earlier send")}
	}
	ok, err := resetScript.Run(ctx, c.rdb, []string{claim}, claimInDoubt+":"+id, claimPending, inflightTTL.Milliseconds()).Int()
	if err != nil {
		return "", false, &gateway.SendError{Kind: gateway.Retryable, Reason: "redis", Err: err}
	}
	if ok == 0 {
		return "", false, &gateway.SendError{Kind: gateway.Retryable, Reason: "in_flight", RetryAfter: time.Second}
	}
	c.log.Warn("sms outbound doubt settled: the provider never had it; sending again", "transport", out.Name(), "sid", id)
	return "", true, nil
}

// resetScript sets KEYS[1] to ARGV[2] for ARGV[3] ms if it still holds ARGV[1].
var resetScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
`)

func str(v any) string { s, _ := v.(string); return s }

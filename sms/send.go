package sms

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	twclient "github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/metrics"
	"github.com/socialaid-vn/gateway/throttle"
)

const twilioAPI = "https://api.twilio.com"

// Twilio error codes the sender acts on.
const (
	codeOptedOut  = "21610" // the recipient replied STOP: Twilio refuses every message to them
	codeThrottled = 20429   // too many requests
)

// finalCodes are Twilio errors about the recipient's number: the same send will never work.
var finalCodes = map[int]string{
	21211: "invalid_number", 21214: "invalid_number", 21217: "invalid_number", 21265: "invalid_number",
	21407: "unsupported_destination", 21408: "unsupported_destination", 21612: "unsupported_destination",
	21614: "not_mobile", 21610: "opted_out",
}

// Send delivers m as one SMS (gateway.Sender). See SendMessage.
func (c *Channel) Send(ctx context.Context, m gateway.Outbound) error {
	_, err := c.SendMessage(ctx, m)
	return err
}

// SendMessage renders m.Reply like an inline reply (same budget and alphabet) and sends it through
// Twilio's REST API, returning the MessageSid whose delivery Delivery and the status callback
// track. Every failure is a *gateway.SendError:
//
//   - Stopped "opted_out": the number opted out (checked before sending, or Twilio's 21610, which
//     is then recorded through OptOuts.Stop). Nothing is sent.
//   - Final: not configured, not a phone number, nothing to send, or Twilio refused the number.
//   - Retryable: Twilio throttled (20429/429, RetryAfter from its Retry-After header), answered
//     5xx, or the connection failed before the request was written. Such errors prove the message
//     was not accepted, so SendMessage itself retries them, up to 3 tries with exponential backoff
//     (honouring Retry-After, which also pauses the shared rate limit), then returns the last one.
//   - Unknown: the request was written but no usable answer came (timeout, connection lost): the
//     SMS may have gone out. It is not retried, and the caller must not resend blindly.
//
// The rate limit (Config.MPS) is shared by all replicas; m.Priority goes ahead of bulk sends. When
// m.Key is set, a message is sent at most once per key for a week: sending a key already sent
// returns its MessageSid without sending again, and sending a key whose earlier send ended
// Unknown returns Unknown "in_doubt" again rather than risk a second SMS.
func (c *Channel) SendMessage(ctx context.Context, m gateway.Outbound) (string, error) {
	if m.Reply.Whole {
		return c.sendParts(ctx, m)
	}
	sid, err := c.send(ctx, m)
	intent := labelOr(m.Reply.Intent, "outbound")
	if se := gateway.SendErrorOf(err); se != nil {
		metrics.SendErrors.WithLabelValues(string(gateway.SMS), se.Kind.String()).Inc()
		c.log.Warn("sms outbound failed", "to", MaskPhone(m.To), "intent", intent, "kind", se.Kind.String(), "reason", se.Reason)
		return "", err
	}
	metrics.MessagesOut.WithLabelValues(string(gateway.SMS), intent).Inc()
	return sid, nil
}

// The marks kept under sms:out:<key>: a send in progress (expires quickly, so a sender that died
// mid-send does not block the message for good), a send whose outcome is unknown (kept for
// outboundTTL: it may have been delivered), or the MessageSid once Twilio accepted it.
const (
	claimPending = "pending"
	claimInDoubt = "in_doubt"
	inflightTTL  = 20 * time.Second // longer than one CreateMessage call (httpTimeout, 15 s)
)

func (c *Channel) send(ctx context.Context, m gateway.Outbound) (string, error) {
	if m.Channel != "" && m.Channel != gateway.SMS {
		return "", &gateway.SendError{Kind: gateway.Final, Reason: "wrong_channel", Err: fmt.Errorf("sms cannot send on %q", m.Channel)}
	}
	if c.validator == nil {
		return "", &gateway.SendError{Kind: gateway.Final, Reason: "not_configured", Err: errors.New("sms: no Twilio credentials")}
	}
	to, err := NormalizePhone(m.To)
	if err != nil {
		return "", &gateway.SendError{Kind: gateway.Final, Reason: "invalid_number", Err: err}
	}
	stopped, err := c.optouts.Stopped(ctx, gateway.SMS, to)
	if err != nil {
		return "", &gateway.SendError{Kind: gateway.Retryable, Reason: "optout_check", Err: err}
	}
	if stopped {
		return "", &gateway.SendError{Kind: gateway.Stopped, Reason: "opted_out"}
	}
	body := Render([]gateway.Reply{m.Reply}, c.render)
	if body == "" {
		return "", &gateway.SendError{Kind: gateway.Final, Reason: "empty", Err: errors.New("sms: nothing to send")}
	}
	segs, _ := Segments(body)

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
			case prev == claimPending:
				// Another sender is on it, or one died mid-send: the mark expires within
				// inflightTTL, after which the message may be sent (a crash counts as in flight).
				wait, _ := c.rdb.PTTL(ctx, claim).Result()
				return "", &gateway.SendError{Kind: gateway.Retryable, Reason: "in_flight", RetryAfter: max(wait, time.Second)}
			case prev != "":
				c.log.Info("sms outbound already sent", "to", MaskPhone(to), "sid", prev)
				return prev, nil
			}
			return "", &gateway.SendError{Kind: gateway.Retryable, Reason: "in_flight"}
		}
	}
	release := func() {
		if claim != "" {
			c.rdb.Del(context.WithoutCancel(ctx), claim)
		}
	}

	bucket := throttle.Bucket{Name: "sms", Limit: throttle.Window(c.cfg.MPS)}
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
		sid, status, se := c.create(ctx, to, body)
		if se == nil {
			if claim != "" {
				if err := c.rdb.Set(context.WithoutCancel(ctx), claim, sid, outboundTTL).Err(); err != nil {
					c.log.Warn("sms outbound key not recorded", "sid", sid, "err", err)
				}
			}
			if err := c.recordStatus(context.WithoutCancel(ctx), sid, labelOr(status, "queued"), "", m.Key); err != nil {
				c.log.Warn("sms delivery not recorded", "sid", sid, "err", err)
			}
			c.log.Info("sms outbound", "to", MaskPhone(to), "sid", sid, "intent", m.Reply.Intent, "segments", segs, "attempt", attempt)
			return sid, nil
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
			// The message may have gone out: never send this key again on our own.
			if claim != "" {
				c.rdb.Set(context.WithoutCancel(ctx), claim, claimInDoubt, outboundTTL)
			}
			return "", se
		case gateway.Final:
			release()
			return "", se
		}
		if se.Reason == "throttled" && se.RetryAfter > 0 {
			if err := c.limiter.Pause(ctx, bucket.Name, se.RetryAfter); err != nil {
				c.log.Warn("sms throttle pause failed", "err", err)
			}
		}
		wait := c.backoff << (attempt - 1)
		wait += time.Duration(rand.Int64N(int64(wait)/5 + 1))
		if se.RetryAfter > 0 {
			wait = se.RetryAfter
		}
		if attempt >= c.attempts || wait > c.maxBackoff {
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

// create makes one CreateMessage call and classifies its outcome.
func (c *Channel) create(ctx context.Context, to, body string) (sid, status string, se *gateway.SendError) {
	// The call's own deadline is a context (not http.Client.Timeout) so that it and the caller's
	// ctx both reach the connection; twilio-go reads the whole body before CreateMessage returns.
	callCtx, cancel := context.WithTimeout(ctx, c.httpTimeout)
	defer cancel()
	tr := &callTransport{ctx: callCtx, base: c.transport, api: c.apiURL}
	cl := &twclient.Client{
		Credentials: twclient.NewCredentials(c.cfg.AccountSID, c.cfg.AuthToken),
		HTTPClient: &http.Client{
			Transport:     tr,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	cl.SetAccountSid(c.cfg.AccountSID)
	params := (&openapi.CreateMessageParams{}).SetTo(to).SetBody(body).
		SetStatusCallback(c.cfg.PublicBaseURL + "/sms/twilio/status")
	if c.cfg.MessagingServiceSID != "" {
		params.SetMessagingServiceSid(c.cfg.MessagingServiceSID)
	} else {
		params.SetFrom(c.cfg.From)
	}
	msg, err := openapi.NewApiServiceWithClient(cl).CreateMessage(params)
	httpStatus, retryAfter, wrote := tr.outcome()
	if err == nil {
		if msg == nil || msg.Sid == nil || *msg.Sid == "" {
			return "", "", &gateway.SendError{Kind: gateway.Unknown, Reason: "bad_response", Err: errors.New("twilio answered without a MessageSid")}
		}
		if msg.Status != nil {
			status = *msg.Status
		}
		return *msg.Sid, status, nil
	}
	var rest *twclient.TwilioRestError
	if errors.As(err, &rest) {
		switch {
		case strconv.Itoa(rest.Code) == codeOptedOut:
			return "", "", &gateway.SendError{Kind: gateway.Stopped, Reason: "opted_out", Err: err}
		case rest.Code == codeThrottled || rest.Status == http.StatusTooManyRequests || httpStatus == http.StatusTooManyRequests:
			return "", "", &gateway.SendError{Kind: gateway.Retryable, Reason: "throttled", RetryAfter: retryAfter, Err: err}
		case rest.Status >= 500 || httpStatus >= 500:
			return "", "", &gateway.SendError{Kind: gateway.Retryable, Reason: "provider_error", RetryAfter: retryAfter, Err: err}
		case finalCodes[rest.Code] != "":
			return "", "", &gateway.SendError{Kind: gateway.Final, Reason: finalCodes[rest.Code], Err: err}
		case httpStatus == http.StatusUnauthorized || httpStatus == http.StatusForbidden:
			return "", "", &gateway.SendError{Kind: gateway.Final, Reason: "unauthorized", Err: err}
		}
		return "", "", &gateway.SendError{Kind: gateway.Final, Reason: "rejected", Err: err}
	}
	switch {
	case httpStatus == http.StatusTooManyRequests:
		return "", "", &gateway.SendError{Kind: gateway.Retryable, Reason: "throttled", RetryAfter: retryAfter, Err: err}
	case httpStatus >= 500:
		return "", "", &gateway.SendError{Kind: gateway.Retryable, Reason: "provider_error", RetryAfter: retryAfter, Err: err}
	case httpStatus >= 400:
		return "", "", &gateway.SendError{Kind: gateway.Final, Reason: "rejected", Err: err}
	case httpStatus != 0:
		// A success status whose body could not be read: the message was probably created.
		return "", "", &gateway.SendError{Kind: gateway.Unknown, Reason: "bad_response", Err: err}
	case !wrote:
		return "", "", &gateway.SendError{Kind: gateway.Retryable, Reason: "connection", Err: err}
	}
	return "", "", &gateway.SendError{Kind: gateway.Unknown, Reason: "timeout", Err: err}
}

// callTransport carries one CreateMessage call: it binds the call's context (twilio-go builds
// requests without one), sends api.twilio.com requests to the configured API URL, and notes
// whether the request was written and what status and Retry-After came back.
type callTransport struct {
	ctx  context.Context
	base http.RoundTripper
	api  string

	mu         sync.Mutex
	wrote      bool
	status     int
	retryAfter time.Duration
}

func (t *callTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.api != twilioAPI && (req.URL.Host == "twilio.com" || strings.HasSuffix(req.URL.Host, ".twilio.com")) {
		// Every Twilio host (also the edge/region forms twilio-go builds from TWILIO_EDGE and
		// TWILIO_REGION) goes to the configured API URL, whose path prefixes the request's.
		base, err := url.Parse(t.api)
		if err != nil {
			return nil, err
		}
		u := *req.URL
		u.Scheme, u.Host = base.Scheme, base.Host
		u.Path = strings.TrimRight(base.Path, "/") + req.URL.Path
		u.RawPath = ""
		req = req.Clone(req.Context())
		req.URL = &u
		req.Host = u.Host
	}
	trace := &httptrace.ClientTrace{WroteRequest: func(info httptrace.WroteRequestInfo) {
		if info.Err == nil {
			t.mu.Lock()
			t.wrote = true
			t.mu.Unlock()
		}
	}}
	ctx := httptrace.WithClientTrace(t.ctx, trace)
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	if resp != nil {
		t.mu.Lock()
		t.status = resp.StatusCode
		t.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"))
		t.mu.Unlock()
	}
	return resp, err
}

func (t *callTransport) outcome() (status int, retryAfter time.Duration, wrote bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.status, t.retryAfter, t.wrote
}

// parseRetryAfter reads a Retry-After header: seconds, or an HTTP date.
func parseRetryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// Package kannel is the Kannel transport of the SMS channel (package sms): the department's short
// code or brandname, which a Vietnamese carrier or SMS aggregator connects over SMPP to a Kannel
// gateway the department runs (deploy/kannel/kannel.conf), and Kannel to this service over HTTP.
//
//   - Inbound (MO): Kannel's sms-service calls GET or POST /sms/kannel (get-url/post-url) with
//     the sender, receiver, message id, coding and charset, and the text as %b — the message's
//     bytes as they came, which keeps Vietnamese intact also when the phone sent UCS-2 (coding=2,
//     charset UTF-16BE). The request is answered 200 with an empty body (the service has
//     max-messages = 0); the reply goes out as a new message through the channel (rate-limited,
//     tracked, possibly several segments). A message id seen before is answered once.
//   - Outbound (MT): Kannel's sendsms HTTP interface with coding=0 for GSM-7 text and coding=2 +
//     charset=UTF-8 for UCS-2, dlr-mask=31 and a dlr-url back to /sms/kannel/dlr carrying the
//     message's own id.
//   - Delivery reports: GET or POST /sms/kannel/dlr, recorded like Twilio's status callbacks.
//
// Both endpoints are authenticated by the secret= query parameter (KANNEL_MO_SECRET), compared
// in constant time, and optionally by the caller's address (KANNEL_ALLOW_FROM); anything else is
// 403 and changes nothing.
package kannel

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/sms"
)

// Config configures the transport (environment: KANNEL_*).
type Config struct {
	// SendSMSURL is Kannel's sendsms URL (http://127.0.0.1:13013/cgi-bin/sendsms). "" makes an
	// inbound-only transport (its replies then go through another outbound transport).
	SendSMSURL string
	// Username and Password are the sendsms-user's credentials in kannel.conf.
	Username, Password string
	// From is the sender of outbound messages: the short code or brandname.
	From string
	// Secret is the secret= query parameter Kannel's get-url and dlr-url carry. Required.
	Secret string
	// AllowFrom, when not empty, are the only addresses requests may come from.
	AllowFrom []netip.Prefix
	// DLRURL is the URL Kannel calls with delivery reports (…/sms/kannel/dlr); required with
	// SendSMSURL.
	DLRURL string
	// Timeout bounds one sendsms call (0 = 15 s). Kannel answers once bearerbox has the message.
	Timeout time.Duration
}

// Transport is the Kannel transport: sms.Transport for outbound messages, and the MO and
// delivery-report endpoints.
type Transport struct {
	cfg       Config
	sendsms   *url.URL
	transport http.RoundTripper
}

// dlrMask asks Kannel for every delivery report: 1 delivered to the phone, 2 not delivered,
// 4 buffered at the SMSC, 8 accepted by the SMSC, 16 rejected by the SMSC.
const dlrMask = "31"

// New checks cfg and builds the transport.
func New(cfg Config) (*Transport, error) {
	if len(cfg.Secret) < 16 {
		return nil, errors.New("kannel: KANNEL_MO_SECRET of at least 16 characters required")
	}
	t := &Transport{cfg: cfg, transport: http.DefaultTransport}
	if t.cfg.Timeout <= 0 {
		t.cfg.Timeout = 15 * time.Second
	}
	if cfg.SendSMSURL == "" {
		return t, nil
	}
	u, err := url.Parse(cfg.SendSMSURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("kannel: KANNEL_SENDSMS_URL must be an http(s) URL, not %q", cfg.SendSMSURL)
	}
	switch {
	case cfg.Username == "" || cfg.Password == "":
		return nil, errors.New("kannel: KANNEL_USERNAME and KANNEL_PASSWORD required with KANNEL_SENDSMS_URL")
	case cfg.From == "":
		return nil, errors.New("kannel: KANNEL_FROM required with KANNEL_SENDSMS_URL")
	case cfg.DLRURL == "":
		return nil, errors.New("kannel: KANNEL_DLR_URL required with KANNEL_SENDSMS_URL")
	}
	if d, err := url.Parse(cfg.DLRURL); err != nil || d.Host == "" || d.RawQuery != "" {
		return nil, fmt.Errorf("kannel: KANNEL_DLR_URL must be an http(s) URL without a query, not %q", cfg.DLRURL)
	}
	t.sendsms = u
	return t, nil
}

// Name implements sms.Transport.
func (t *Transport) Name() string { return "kannel" }

// Submit makes one sendsms call (sms.Transport). Kannel's answers:
//
//   - 202 "0: Accepted for delivery": bearerbox has the message; it goes out now.
//   - 202 "3: Queued for later delivery": bearerbox has the message but no SMSC link is up; it is
//     kept (in bearerbox's store, with store-type set as in deploy/kannel/kannel.conf) and goes
//     out when the carrier is back. This is an acceptance, recorded as "queued": sending it again
//     would give the person the message twice once the link returns.
//   - 503 "Temporal failure, try again later." and 500 "Sending failed.": not taken → Retryable.
//   - 403 "Authorization failed for sendsms" → Final "unauthorized"; 403 "Not routable. Do not try
//     again." → Final "not_routable"; other 4xx ("... rejected") → Final "rejected"; 408 and 429
//     (a proxy in front of Kannel) → Retryable.
//   - Connection refused, or any failure before the request was written (Kannel down or
//     restarting) → Retryable "connection"; a timeout or lost connection after it was written →
//     Unknown (bearerbox may have the message), with the id its delivery reports would carry,
//     so that the channel can settle the doubt (see SettleAfter).
func (t *Transport) Submit(ctx context.Context, m sms.Message) (sms.Submitted, error) {
	if t.sendsms == nil {
		return sms.Submitted{}, &gateway.SendError{Kind: gateway.Final, Reason: "not_configured", Err: errors.New("kannel: no KANNEL_SENDSMS_URL")}
	}
	id, err := newID()
	if err != nil {
		return sms.Submitted{}, &gateway.SendError{Kind: gateway.Retryable, Reason: "id", Err: err}
	}
	q := t.sendsms.Query()
	q.Set("username", t.cfg.Username)
	q.Set("password", t.cfg.Password)
	q.Set("from", t.cfg.From)
	q.Set("to", m.To)
	q.Set("text", m.Text)
	q.Set("charset", "UTF-8") // the text parameter is UTF-8; Kannel converts it for the coding
	if m.Encoding == sms.UCS2 {
		q.Set("coding", "2")
	} else {
		q.Set("coding", "0")
	}
	q.Set("dlr-mask", dlrMask)
	q.Set("dlr-url", t.dlrURL(id))
	u := *t.sendsms
	u.RawQuery = q.Encode()

	callCtx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
	defer cancel()
	var mu sync.Mutex
	wrote := false
	trace := &httptrace.ClientTrace{WroteRequest: func(info httptrace.WroteRequestInfo) {
		if info.Err == nil {
			mu.Lock()
			wrote = true
			mu.Unlock()
		}
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(callCtx, trace), http.MethodGet, u.String(), nil)
	if err != nil {
		return sms.Submitted{}, &gateway.SendError{Kind: gateway.Final, Reason: "bad_request", Err: err}
	}
	client := &http.Client{Transport: t.transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		mu.Lock()
		w := wrote
		mu.Unlock()
		err = redact(err)
		if !w {
			return sms.Submitted{}, &gateway.SendError{Kind: gateway.Retryable, Reason: "connection", Err: err}
		}
		return sms.Submitted{ID: id}, &gateway.SendError{Kind: gateway.Unknown, Reason: "timeout", Err: err}
	}
	defer resp.Body.Close()
	raw, rerr := io.ReadAll(io.LimitReader(resp.Body, 4096))
	body := strings.TrimSpace(string(raw))
	answer := fmt.Errorf("kannel answered %d %q", resp.StatusCode, body)
	switch {
	case resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusOK:
		switch {
		case rerr != nil:
			return sms.Submitted{ID: id}, &gateway.SendError{Kind: gateway.Unknown, Reason: "bad_response", Err: rerr}
		case strings.HasPrefix(body, "0:") || strings.HasPrefix(body, "Sent."):
			return sms.Submitted{ID: id, Status: "accepted"}, nil
		case strings.HasPrefix(body, "3:"):
			return sms.Submitted{ID: id, Status: "queued"}, nil
		}
		// A success status with an answer Kannel never gives: it probably took the message.
		return sms.Submitted{ID: id}, &gateway.SendError{Kind: gateway.Unknown, Reason: "bad_response", Err: answer}
	case resp.StatusCode >= 500, resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests:
		return sms.Submitted{}, &gateway.SendError{Kind: gateway.Retryable, Reason: "provider_error",
			RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After")), Err: answer}
	case resp.StatusCode == http.StatusForbidden && strings.Contains(body, "Authorization"),
		resp.StatusCode == http.StatusUnauthorized:
		return sms.Submitted{}, &gateway.SendError{Kind: gateway.Final, Reason: "unauthorized", Err: answer}
	case resp.StatusCode == http.StatusForbidden && strings.Contains(body, "routable"):
		return sms.Submitted{}, &gateway.SendError{Kind: gateway.Final, Reason: "not_routable", Err: answer}
	}
	return sms.Submitted{}, &gateway.SendError{Kind: gateway.Final, Reason: "rejected", Err: answer}
}

// SettleAfter implements sms.Settler. Every message bearerbox takes is reported (dlr-mask 8:
// accepted by the SMSC) and bearerbox hands messages to the SMSC in the order it took them —
// stored ones first after a restart — so a send in doubt is settled by the reports: one for the
// message itself proves Kannel had it; reports for messages submitted more than SettleAfter
// after it, and none for it, prove Kannel no longer holds it (it was lost when Kannel stopped
// mid-request), and it may be sent again. Three seconds covers the reordering of an SMPP window
// (max-pending-submits 10 at 20 messages a second is half a second).
func (t *Transport) SettleAfter() time.Duration { return 3 * time.Second }

// dlrURL is the delivery-report URL for message id, with Kannel's placeholders: %d the report
// type, %A the SMSC's reply (SMPP "id:... stat:DELIVRD err:000 ..." or "NACK/0x.../..."), %i the
// smsc-id, %T the time.
func (t *Transport) dlrURL(id string) string {
	return t.cfg.DLRURL + "?secret=" + url.QueryEscape(t.cfg.Secret) + "&id=" + id + "&type=%d&reply=%A&smsc=%i&ts=%T"
}

// newID makes the id of one outbound message: "K" and 24 hex digits.
func newID() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "K" + hex.EncodeToString(b), nil
}

// redact keeps the sendsms URL (with the password) out of error texts that reach the logs.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s sendsms: %w", ue.Op, ue.Err)
	}
	return err
}

// allowed authenticates a request from Kannel: the caller's address is in AllowFrom (when set)
// and the secret query parameter equals Secret (constant time).
func (t *Transport) allowed(r *http.Request) bool {
	if len(t.cfg.AllowFrom) > 0 {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		addr, err := netip.ParseAddr(host)
		if err != nil {
			return false
		}
		addr = addr.Unmap()
		ok := false
		for _, p := range t.cfg.AllowFrom {
			if p.Contains(addr) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	got := r.URL.Query().Get("secret")
	return subtle.ConstantTimeCompare([]byte(got), []byte(t.cfg.Secret)) == 1
}

func parseRetryAfter(v string) time.Duration {
	var n int
	if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d", &n); err == nil && n > 0 && n < 3600 {
		return time.Duration(n) * time.Second
	}
	return 0
}

// Package twilio is the Twilio transport of the SMS channel (package sms): Twilio's signed
// incoming-message webhook (POST /sms/twilio, answered with TwiML), its status callback (POST
// /sms/twilio/status) and outbound messages through its REST API (twilio-go).
//
// Twilio sends SMS to Vietnam from a pre-registered alphanumeric sender ID but cannot receive
// there ("Two-way SMS supported: No"): in Vietnam people text a carrier short code, which comes
// through Kannel (sms/kannel). Twilio two-way works in the countries Twilio supports it in.
//
// Twilio's requests are accepted only with a valid X-Twilio-Signature computed over
// PUBLIC_BASE_URL + the request URI, so a forged request changes nothing.
package twilio

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	twclient "github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/sms"
)

const twilioAPI = "https://api.twilio.com"

// Twilio error codes the transport acts on.
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

// Config configures the transport (environment: TWILIO_*, PUBLIC_BASE_URL).
type Config struct {
	// AccountSID and AuthToken are the Twilio credentials (both required).
	AccountSID, AuthToken string
	// From (E.164 or an alphanumeric sender ID) or MessagingServiceSID (MG...) is the sender of
	// outbound messages; one is required. MessagingServiceSID wins when both are set.
	From, MessagingServiceSID string
	// APIURL is the Twilio REST base URL ("" = https://api.twilio.com).
	APIURL string
	// PublicBaseURL is the externally visible base URL of this service. Signatures are checked
	// against PublicBaseURL + request URI (behind a proxy, this is what Twilio called, not what
	// the server sees), and the status callback URL is built from it. Required.
	PublicBaseURL string
	// Timeout bounds one CreateMessage call (0 = 15 s).
	Timeout time.Duration
}

// Transport is the Twilio transport: sms.Transport for outbound messages, and the webhooks.
type Transport struct {
	cfg       Config
	apiURL    string
	validator twclient.RequestValidator
	transport http.RoundTripper // tests wrap it
}

// New checks cfg and builds the transport.
func New(cfg Config) (*Transport, error) {
	cfg.PublicBaseURL = strings.TrimRight(cfg.PublicBaseURL, "/")
	switch {
	case cfg.AccountSID == "" || cfg.AuthToken == "":
		return nil, errors.New("twilio: TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN go together")
	case cfg.From == "" && cfg.MessagingServiceSID == "":
		return nil, errors.New("twilio: TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID required")
	case cfg.PublicBaseURL == "":
		return nil, errors.New("twilio: PUBLIC_BASE_URL required to check Twilio signatures")
	}
	t := &Transport{cfg: cfg, apiURL: strings.TrimRight(cfg.APIURL, "/"), transport: sms.PooledTransport()}
	if t.apiURL == "" {
		t.apiURL = twilioAPI
	}
	if u, err := url.Parse(t.apiURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("twilio: TWILIO_API_URL must be an http(s) URL, not %q", cfg.APIURL)
	}
	if t.cfg.Timeout <= 0 {
		t.cfg.Timeout = 15 * time.Second
	}
	if cfg.From != "" && cfg.MessagingServiceSID == "" && !isSenderID(cfg.From) {
		from, err := sms.NormalizePhone(cfg.From)
		if err != nil {
			return nil, fmt.Errorf("twilio: TWILIO_FROM: %w", err)
		}
		t.cfg.From = from
	}
	t.validator = twclient.NewRequestValidator(cfg.AuthToken)
	return t, nil
}

// isSenderID reports whether s is an alphanumeric sender ID (1-11 letters, digits and spaces,
// at least one letter), as Twilio sends to Vietnam from.
func isSenderID(s string) bool {
	if len(s) == 0 || len(s) > 11 {
		return false
	}
	letter := false
	for _, r := range s {
		switch {
		case r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z':
			letter = true
		case r >= '0' && r <= '9' || r == ' ':
		default:
			return false
		}
	}
	return letter
}

// Name implements sms.Transport.
func (t *Transport) Name() string { return "twilio" }

// Submit makes one CreateMessage call (sms.Transport): Twilio's 20429/429, 5xx and connection
// failures before the request was written are Retryable (with Retry-After), 21610 is Stopped,
// errors about the number and other 4xx are Final, and a timeout after the request was written
// is Unknown. Outbound messages carry StatusCallback=<PUBLIC_BASE_URL>/sms/twilio/status.
func (t *Transport) Submit(ctx context.Context, m sms.Message) (sms.Submitted, error) {
	// The call's own deadline is a context (not http.Client.Timeout) so that it and the caller's
	// ctx both reach the connection; twilio-go reads the whole body before CreateMessage returns.
	callCtx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
	defer cancel()
	tr := &callTransport{ctx: callCtx, base: t.transport, api: t.apiURL}
	cl := &twclient.Client{
		Credentials: twclient.NewCredentials(t.cfg.AccountSID, t.cfg.AuthToken),
		HTTPClient: &http.Client{
			Transport:     tr,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	cl.SetAccountSid(t.cfg.AccountSID)
	params := (&openapi.CreateMessageParams{}).SetTo(m.To).SetBody(m.Text).
		SetStatusCallback(t.cfg.PublicBaseURL + "/sms/twilio/status")
	if t.cfg.MessagingServiceSID != "" {
		params.SetMessagingServiceSid(t.cfg.MessagingServiceSID)
	} else {
		params.SetFrom(t.cfg.From)
	}
	msg, err := openapi.NewApiServiceWithClient(cl).CreateMessage(params)
	httpStatus, retryAfter, wrote := tr.outcome()
	fail := func(kind gateway.SendErrorKind, reason string, retryAfter time.Duration) (sms.Submitted, error) {
		return sms.Submitted{}, &gateway.SendError{Kind: kind, Reason: reason, RetryAfter: retryAfter, Err: err}
	}
	if err == nil {
		if msg == nil || msg.Sid == nil || *msg.Sid == "" {
			err = errors.New("twilio answered without a MessageSid")
			return fail(gateway.Unknown, "bad_response", 0)
		}
		s := sms.Submitted{ID: *msg.Sid}
		if msg.Status != nil {
			s.Status = *msg.Status
		}
		return s, nil
	}
	var rest *twclient.TwilioRestError
	if errors.As(err, &rest) {
		switch {
		case strconv.Itoa(rest.Code) == codeOptedOut:
			return fail(gateway.Stopped, "opted_out", 0)
		case rest.Code == codeThrottled || rest.Status == http.StatusTooManyRequests || httpStatus == http.StatusTooManyRequests:
			return fail(gateway.Retryable, "throttled", retryAfter)
		case rest.Status >= 500 || httpStatus >= 500:
			return fail(gateway.Retryable, "provider_error", retryAfter)
		case finalCodes[rest.Code] != "":
			return fail(gateway.Final, finalCodes[rest.Code], 0)
		case httpStatus == http.StatusUnauthorized || httpStatus == http.StatusForbidden:
			return fail(gateway.Final, "unauthorized", 0)
		}
		return fail(gateway.Final, "rejected", 0)
	}
	switch {
	case httpStatus == http.StatusTooManyRequests:
		return fail(gateway.Retryable, "throttled", retryAfter)
	case httpStatus >= 500:
		return fail(gateway.Retryable, "provider_error", retryAfter)
	case httpStatus >= 400:
		return fail(gateway.Final, "rejected", 0)
	case httpStatus != 0:
		// A success status whose body could not be read: the message was probably created.
		return fail(gateway.Unknown, "bad_response", 0)
	case !wrote:
		return fail(gateway.Retryable, "connection", 0)
	}
	return fail(gateway.Unknown, "timeout", 0)
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

package twilio

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/sms"
	"github.com/socialaid-vn/gateway/sms/smstest"
	"github.com/socialaid-vn/gateway/throttle"
)

func twilioError(status, code int, retryAfter string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"code":%d,"message":"error %d","more_info":"https://www.twilio.com/docs/errors/%d","status":%d}`, code, code, code, status)
	}
}

func htmlError(status int) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		io.WriteString(w, "<html><body>Service Unavailable</body></html>")
	}
}

// hang never answers (until the client gives up).
func hang(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

func outbound(text string) gateway.Outbound {
	return gateway.Outbound{Channel: gateway.SMS, To: "0912345667", Lang: "vi",
		Reply: gateway.Reply{Text: text, Intent: "broadcast"}}
}

func TestSend(t *testing.T) {
	cases := []struct {
		name     string
		script   []func(http.ResponseWriter, *http.Request)
		kind     gateway.SendErrorKind // 0 = success
		reason   string
		calls    int
		stopped  bool
		retryAft time.Duration
	}{
		{name: "accepted", calls: 1},
		{name: "opted out 21610", script: steps(twilioError(400, 21610, "")), kind: gateway.Stopped, reason: "opted_out", calls: 1, stopped: true},
		{name: "invalid number 21211", script: steps(twilioError(400, 21211, "")), kind: gateway.Final, reason: "invalid_number", calls: 1},
		{name: "throttled 20429 then accepted", script: steps(twilioError(429, 20429, "")), calls: 2},
		{name: "5xx then accepted", script: steps(twilioError(500, 20500, "")), calls: 2},
		{name: "5xx html body then accepted", script: steps(htmlError(503)), calls: 2},
		{name: "5xx three times gives up", script: steps(htmlError(502), htmlError(503), twilioError(500, 20500, "")),
			kind: gateway.Retryable, reason: "provider_error", calls: 3},
		{name: "Retry-After beyond the backoff cap is returned, not slept", script: steps(twilioError(429, 20429, "120")),
			kind: gateway.Retryable, reason: "throttled", calls: 1, retryAft: 120 * time.Second},
		{name: "timeout after sending is unknown, not retried", script: steps(hang), kind: gateway.Unknown, reason: "timeout", calls: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tw := smstest.NewTwilio(t, tc.script...)
			f := newFixture(t, func(c *Config) { c.APIURL = tw.URL; c.Timeout = 200 * time.Millisecond })
			sid, err := f.ch.SendMessage(context.Background(), outbound("Thông báo: ngày 10/7 chi trả tại nhà văn hóa thôn ạ."))
			if tw.Calls() != tc.calls {
				t.Errorf("%d calls to Twilio, want %d", tw.Calls(), tc.calls)
			}
			if tc.kind == 0 {
				if err != nil || !strings.HasPrefix(sid, "SM") {
					t.Fatalf("sid %q err %v", sid, err)
				}
				d, err := f.ch.Delivery(context.Background(), sid)
				if err != nil || d.Status != "queued" {
					t.Errorf("Delivery %+v %v", d, err)
				}
				return
			}
			se := gateway.SendErrorOf(err)
			if se == nil || se.Kind != tc.kind || se.Reason != tc.reason {
				t.Fatalf("err %v, want %s %s", err, tc.kind, tc.reason)
			}
			if se.RetryAfter != tc.retryAft {
				t.Errorf("RetryAfter %s, want %s", se.RetryAfter, tc.retryAft)
			}
			if got := f.optouts.Reason(testPhone) == "opted_out"; got != tc.stopped {
				t.Errorf("opted out = %v, want %v", got, tc.stopped)
			}
			if tc.retryAft > 0 {
				if d, _ := throttle.New(f.rdb, "throttle:").Paused(context.Background(), "sms"); d < 100*time.Second {
					t.Errorf("shared limit not paused for Retry-After: %s", d)
				}
			}
		})
	}
}

func steps(s ...func(http.ResponseWriter, *http.Request)) []func(http.ResponseWriter, *http.Request) {
	return s
}

func TestSendRequest(t *testing.T) {
	tw := smstest.NewTwilio(t)
	f := newFixture(t, func(c *Config) { c.APIURL = tw.URL + "/" })
	if _, err := f.ch.SendMessage(context.Background(), outbound("Đăng ký • nhận “thông báo”…")); err != nil {
		t.Fatal(err)
	}
	req := tw.Requests()[0]
	form := req.Form
	if req.Path != "POST /2010-04-01/Accounts/"+testSID+"/Messages.json" || req.User != testSID {
		t.Errorf("request %s as %q", req.Path, req.User)
	}
	want := map[string]string{
		"To": testPhone, "From": "+84900000001", "Body": `Dang ky - nhan "thong bao"...`,
		"StatusCallback": testBase + "/sms/twilio/status",
	}
	for k, v := range want {
		if form.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, form.Get(k), v)
		}
	}
	// A messaging service replaces From.
	f2 := newFixture(t, func(c *Config) { c.APIURL = tw.URL; c.MessagingServiceSID = "MG0123" })
	if _, err := f2.ch.SendMessage(context.Background(), outbound("x")); err != nil {
		t.Fatal(err)
	}
	if form := tw.Requests()[1].Form; form.Get("MessagingServiceSid") != "MG0123" || form.Has("From") {
		t.Errorf("messaging service form %v", form)
	}
	if logs := f.logs.String(); strings.Contains(logs, "912345667") || strings.Contains(logs, "thong bao") || !strings.Contains(logs, "+8491*****67") {
		t.Errorf("outbound log leaks or lacks fields:\n%s", logs)
	}
}

func TestSendConnectionRefusedIsRetried(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	f := newFixture(t, func(c *Config) { c.APIURL = "http://" + addr })
	err = f.ch.Send(context.Background(), outbound("x"))
	if se := gateway.SendErrorOf(err); se == nil || se.Kind != gateway.Retryable || se.Reason != "connection" {
		t.Fatalf("err %v", err)
	}
	if !gateway.IsRetryable(err) {
		t.Error("IsRetryable false")
	}
}

func TestSendRefusesStoppedNumber(t *testing.T) {
	tw := smstest.NewTwilio(t)
	f := newFixture(t, func(c *Config) { c.APIURL = tw.URL })
	f.optouts.Stop(context.Background(), gateway.SMS, testPhone, "opted_out")
	err := f.ch.Send(context.Background(), outbound("Thông báo"))
	if se := gateway.SendErrorOf(err); se == nil || se.Kind != gateway.Stopped {
		t.Fatalf("err %v", err)
	}
	if tw.Calls() != 0 {
		t.Error("sent to an opted-out number")
	}
}

func TestSendBadInput(t *testing.T) {
	tw := smstest.NewTwilio(t)
	f := newFixture(t, func(c *Config) { c.APIURL = tw.URL })
	cases := map[string]gateway.Outbound{
		"invalid_number": {Channel: gateway.SMS, To: "abc", Reply: gateway.Reply{Text: "x"}},
		"empty":          {Channel: gateway.SMS, To: testPhone, Reply: gateway.Reply{Text: " 🎉 "}},
		"wrong_channel":  {Channel: gateway.Telegram, To: testPhone, Reply: gateway.Reply{Text: "x"}},
	}
	for reason, m := range cases {
		err := f.ch.Send(context.Background(), m)
		if se := gateway.SendErrorOf(err); se == nil || se.Kind != gateway.Final || se.Reason != reason {
			t.Errorf("%s: %v", reason, err)
		}
	}
	if tw.Calls() != 0 {
		t.Error("bad input reached Twilio")
	}
}

// TestSendKeyOnce: a message key is sent once; after a timeout the same key is refused as in
// doubt rather than sent again; after a definite failure it may be sent again.
func TestSendKeyOnce(t *testing.T) {
	tw := smstest.NewTwilio(t, smstest.Created, hang, htmlError(503), htmlError(503), htmlError(503))
	f := newFixture(t, func(c *Config) { c.APIURL = tw.URL; c.Timeout = 200 * time.Millisecond })
	ctx := context.Background()
	m := outbound("Nhắc lịch chi trả")
	m.Key = "bc-1:+84912345667"
	sid1, err := f.ch.SendMessage(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	sid2, err := f.ch.SendMessage(ctx, m)
	if err != nil || sid2 != sid1 || tw.Calls() != 1 {
		t.Fatalf("resend of a sent key: sid %q/%q err %v calls %d", sid1, sid2, err, tw.Calls())
	}
	if d, _ := f.ch.Delivery(ctx, sid1); d.Key != m.Key {
		t.Errorf("delivery key %q", d.Key)
	}

	m.Key = "bc-2:+84912345667" // times out
	if err := f.ch.Send(ctx, m); gateway.SendErrorOf(err) == nil || gateway.SendErrorOf(err).Kind != gateway.Unknown {
		t.Fatalf("err %v", err)
	}
	err = f.ch.Send(ctx, m)
	if se := gateway.SendErrorOf(err); se == nil || se.Kind != gateway.Unknown || se.Reason != "in_doubt" || tw.Calls() != 2 {
		t.Fatalf("key in doubt resent: %v (calls %d)", err, tw.Calls())
	}

	m.Key = "bc-3:+84912345667" // 503 three times: not accepted, so it may be tried again
	if err := f.ch.Send(ctx, m); !gateway.IsRetryable(err) {
		t.Fatalf("err %v", err)
	}
	if _, err := f.ch.SendMessage(ctx, m); err != nil || tw.Calls() != 6 {
		t.Fatalf("retry after definite failure: %v (calls %d)", err, tw.Calls())
	}
}

func TestSendContextCancelled(t *testing.T) {
	tw := smstest.NewTwilio(t, htmlError(503), htmlError(503), htmlError(503))
	first := make(chan struct{}, 1)
	f := newFixture(t, func(c *Config) { c.APIURL = tw.URL })
	f.tw.transport = notifyTransport{base: http.DefaultTransport, answered: first}
	ch, err := sms.New(sms.Config{Outbound: f.tw, MPS: 1000, Retry: sms.Retry{Backoff: time.Hour, MaxBackoff: 2 * time.Hour}},
		f.rdb, f.core, f.optouts, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.ch = ch
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- f.ch.Send(ctx, outbound("x")) }()
	<-first
	cancel()
	select {
	case err := <-done:
		if !gateway.IsRetryable(err) {
			t.Errorf("err %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Send ignored context cancellation while backing off")
	}
	if tw.Calls() != 1 {
		t.Errorf("%d calls", tw.Calls())
	}
}

// notifyTransport signals each response received.
type notifyTransport struct {
	base     http.RoundTripper
	answered chan struct{}
}

func (n notifyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := n.base.RoundTrip(r)
	if err == nil {
		n.answered <- struct{}{}
	}
	return resp, err
}

// TestSendHonoursRetryAfter: a Retry-After within the cap is waited for, then the send retried.
func TestSendHonoursRetryAfter(t *testing.T) {
	tw := smstest.NewTwilio(t, twilioError(429, 20429, "1"))
	f := newFixture(t, func(c *Config) { c.APIURL = tw.URL })
	ch, err := sms.New(sms.Config{Outbound: f.tw, MPS: 1000, Retry: sms.Retry{Backoff: time.Millisecond, MaxBackoff: 5 * time.Second}},
		f.rdb, f.core, f.optouts, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.ch = ch
	start := time.Now()
	if err := f.ch.Send(context.Background(), outbound("x")); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < time.Second || tw.Calls() != 2 {
		t.Errorf("retried after %s (%d calls), want after Retry-After: 1", el, tw.Calls())
	}
}

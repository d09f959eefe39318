package sms

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/redisconn/redistest"
)

const (
	testSID   = "AC0123456789abcdef0123456789abcdef"
	testToken = "0123456789abcdef0123456789abcdef"
	testBase  = "https://gw.example.gov.vn"
	testPhone = "+84912345667"
)

// fakeCore answers like the conversation core would, echoing what it understood. It blocks on
// gate when one is set, and fails while fail is set.
type fakeCore struct {
	mu      sync.Mutex
	calls   []gateway.Inbound
	gate    chan struct{}
	entered chan struct{}
	fail    error
}

func (f *fakeCore) Handle(ctx context.Context, in gateway.Inbound) ([]gateway.Reply, error) {
	f.mu.Lock()
	f.calls = append(f.calls, in)
	gate, entered, fail := f.gate, f.entered, f.fail
	f.mu.Unlock()
	if entered != nil {
		entered <- struct{}{}
	}
	if gate != nil {
		<-gate
	}
	if fail != nil {
		return nil, fail
	}
	intent := in.Intent
	if intent == "" {
		intent = "out_of_scope"
	}
	keys := make([]string, 0, len(in.Entities))
	for k, v := range in.Entities {
		keys = append(keys, k+"="+v)
	}
	sort.Strings(keys)
	return []gateway.Reply{{
		Text:    fmt.Sprintf("Dạ, ý định: %s. %s", intent, strings.Join(keys, " ")),
		Intent:  intent,
		Choices: []gateway.Choice{{Label: "Hướng dẫn", Keyword: "HD"}},
	}}, nil
}

func (f *fakeCore) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func (f *fakeCore) last() gateway.Inbound {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[len(f.calls)-1]
}

// fakeOptOuts is an in-memory audience consent store.
type fakeOptOuts struct {
	mu      sync.Mutex
	stopped map[string]string
	resumed []string
}

func newOptOuts() *fakeOptOuts { return &fakeOptOuts{stopped: map[string]string{}} }

func (f *fakeOptOuts) Stop(_ context.Context, ch gateway.Channel, id, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped[string(ch)+":"+id] = reason
	return nil
}

func (f *fakeOptOuts) Resume(_ context.Context, ch gateway.Channel, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.stopped, string(ch)+":"+id)
	f.resumed = append(f.resumed, id)
	return nil
}

func (f *fakeOptOuts) Stopped(_ context.Context, ch gateway.Channel, id string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.stopped[string(ch)+":"+id]
	return ok, nil
}

func (f *fakeOptOuts) reason(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stopped["sms:"+id]
}

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type fixture struct {
	ch      *Channel
	core    *fakeCore
	optouts *fakeOptOuts
	logs    *syncBuffer
}

// newFixture builds a channel with credentials on a fresh Redis; edit changes the config.
func newFixture(t *testing.T, edit func(*Config)) *fixture {
	t.Helper()
	cfg := Config{
		AccountSID: testSID, AuthToken: testToken, From: "+84900000001",
		PublicBaseURL: testBase, APIURL: "http://127.0.0.1:1", MPS: 1000,
	}
	if edit != nil {
		edit(&cfg)
	}
	f := &fixture{core: &fakeCore{}, optouts: newOptOuts(), logs: &syncBuffer{}}
	log := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ch, err := New(cfg, redistest.New(t), f.core, f.optouts, testCommunes, log)
	if err != nil {
		t.Fatal(err)
	}
	ch.backoff = time.Millisecond
	ch.maxBackoff = 50 * time.Millisecond
	ch.httpTimeout = 2 * time.Second
	f.ch = ch
	return f
}

// twilioSignature computes X-Twilio-Signature the way Twilio documents it: HMAC-SHA1 keyed with
// the auth token over the full URL followed by every POST parameter name and value, sorted by
// name, base64-encoded. It is written independently of twilio-go's validator on purpose.
func twilioSignature(token, fullURL string, form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range keys {
		for _, v := range form[k] {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	h := hmac.New(sha1.New, []byte(token))
	h.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// signedPost builds a POST of form to path as Twilio would send it to testBase.
func signedPost(path string, form url.Values) *http.Request {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twilioSignature(testToken, testBase+path, form))
	return req
}

// inboundForm is a Twilio incoming-message payload (the fields Twilio posts).
func inboundForm(sid, from, body string) url.Values {
	return url.Values{
		"ToCountry": {"VN"}, "SmsMessageSid": {sid}, "NumMedia": {"0"}, "SmsSid": {sid},
		"SmsStatus": {"received"}, "Body": {body}, "To": {"+84900000001"}, "NumSegments": {"1"},
		"MessageSid": {sid}, "AccountSid": {testSID}, "From": {from}, "ApiVersion": {"2010-04-01"},
	}
}

// twimlMessage extracts the <Message> text of a TwiML answer ("" when there is none).
func twimlMessage(t *testing.T, body string) string {
	t.Helper()
	var doc struct {
		XMLName  xml.Name `xml:"Response"`
		Messages []string `xml:"Message"`
	}
	if err := xml.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("not TwiML: %v\n%s", err, body)
	}
	if len(doc.Messages) > 1 {
		t.Fatalf("%d messages in one reply", len(doc.Messages))
	}
	if len(doc.Messages) == 0 {
		return ""
	}
	return doc.Messages[0]
}

package twilio

import (
	"log/slog"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway/internal/logtest"
	"github.com/socialaid-vn/gateway/redisconn/redistest"
	"github.com/socialaid-vn/gateway/sms"
	"github.com/socialaid-vn/gateway/sms/smstest"
)

const (
	testSID   = "AC0123456789abcdef0123456789abcdef"
	testToken = "0123456789abcdef0123456789abcdef"
	testBase  = "https://gw.example.gov.vn"
	testPhone = "+84912345667"
)

var testCommunes = []string{"Vũ Phúc", "Trần Lãm", "Đông Hưng"}

type fixture struct {
	ch      *sms.Channel
	tw      *Transport
	core    *smstest.Core
	optouts *smstest.OptOuts
	logs    *logtest.Buffer
	log     *slog.Logger
	rdb     redis.UniversalClient
}

// newFixture builds the SMS channel sending through a Twilio transport on a fresh Redis; edit
// changes the transport's config.
func newFixture(t *testing.T, edit func(*Config)) *fixture {
	t.Helper()
	cfg := Config{
		AccountSID: testSID, AuthToken: testToken, From: "+84900000001",
		PublicBaseURL: testBase, APIURL: "http://127.0.0.1:1", Timeout: 2 * time.Second,
	}
	if edit != nil {
		edit(&cfg)
	}
	f := &fixture{core: &smstest.Core{}, optouts: smstest.NewOptOuts(), logs: &logtest.Buffer{}}
	f.log = slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tw, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.rdb = redistest.New(t)
	ch, err := sms.New(sms.Config{Outbound: tw, MPS: 1000, Retry: sms.Retry{Backoff: time.Millisecond, MaxBackoff: 50 * time.Millisecond}},
		f.rdb, f.core, f.optouts, testCommunes, f.log)
	if err != nil {
		t.Fatal(err)
	}
	f.ch, f.tw = ch, tw
	return f
}

func (f *fixture) inbound() http.Handler { return f.tw.InboundHandler(f.ch, f.log) }
func (f *fixture) status() http.Handler  { return f.tw.StatusHandler(f.ch, f.log) }

// signedPost builds a POST of form to path as Twilio would send it to testBase.
func signedPost(path string, form url.Values) *http.Request {
	return smstest.NewRequest(path, form, smstest.Sign(testToken, testBase+path, form))
}

// inboundForm is a Twilio incoming-message payload (the fields Twilio posts).
func inboundForm(sid, from, body string) url.Values {
	return smstest.InboundForm(testSID, sid, from, body)
}

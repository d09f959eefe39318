package broadcast

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/audience"
	"github.com/socialaid-vn/gateway/data"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/redisconn/redistest"
	"github.com/socialaid-vn/gateway/sms"
)

var testCommunes = []string{"Vũ Phúc", "Trần Lãm", "Hưng Hà"}

// fakeSender records what it delivers and fails as told.
type fakeSender struct {
	mu    sync.Mutex
	got   map[string]int // recipient → deliveries
	msgs  []gateway.Outbound
	calls map[string]int
	fail  func(to string, call int) error // nil error = deliver
	gate  chan struct{}                   // when set, each Send waits for a token
}

func newFake() *fakeSender {
	return &fakeSender{got: map[string]int{}, calls: map[string]int{}}
}

func (f *fakeSender) Send(ctx context.Context, m gateway.Outbound) error {
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return &gateway.SendError{Kind: gateway.Retryable, Reason: "timeout", Err: ctx.Err()}
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[m.To]++
	if f.fail != nil {
		if err := f.fail(m.To, f.calls[m.To]); err != nil {
			return err
		}
	}
	f.got[m.To]++
	f.msgs = append(f.msgs, m)
	return nil
}

// sent is a copy of the messages sent so far.
func (f *fakeSender) sent() []gateway.Outbound {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]gateway.Outbound(nil), f.msgs...)
}

func (f *fakeSender) deliveries() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for k, v := range f.got {
		out[k] = v
	}
	return out
}

func catalog(t testing.TB) *i18n.Catalog {
	t.Helper()
	cat, err := i18n.LoadCatalog(data.Embedded())
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func fastConfig() Config {
	return Config{Communes: testCommunes, Workers: 4, Poll: 50 * time.Millisecond,
		ClaimIdle: 300 * time.Millisecond, Heartbeat: 300 * time.Millisecond, SMSMaxSegments: 2}
}

type fixture struct {
	rdb      redis.UniversalClient
	aud      *audience.Store
	tg, sms  *fakeSender
	svc      *Service
	cancel   context.CancelFunc
	runDone  chan struct{}
	handler  http.Handler
	senders  map[gateway.Channel]gateway.Sender
	catalog  *i18n.Catalog
	testName string
}

func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	rdb := redistest.New(t)
	f := &fixture{rdb: rdb, aud: audience.New(rdb), tg: newFake(), sms: newFake(), catalog: catalog(t)}
	f.senders = map[gateway.Channel]gateway.Sender{gateway.Telegram: f.tg, gateway.SMS: f.sms}
	f.svc = New(rdb, f.aud, f.senders, f.catalog, cfg, slog.New(slog.DiscardHandler))
	f.handler = f.svc.APIHandler("secret")
	return f
}

// run starts the service; it is stopped (and drained) when the test ends.
func (f *fixture) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	f.runDone = make(chan struct{})
	go func() {
		defer close(f.runDone)
		if err := f.svc.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-f.runDone:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
}

func (f *fixture) subscribe(t *testing.T, subs ...audience.Subscriber) {
	t.Helper()
	for _, s := range subs {
		if err := f.aud.Subscribe(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
}

func (f *fixture) call(t *testing.T, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, req)
	var out map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatalf("%s %s: response is not JSON: %q", method, path, w.Body.String())
	}
	return w.Code, out
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling with a deadline, not waiting for an event
	}
}

func (f *fixture) waitStatus(t *testing.T, id, status string) *Report {
	t.Helper()
	var rep *Report
	waitFor(t, 15*time.Second, id+" "+status, func() bool {
		var err error
		rep, err = f.svc.Report(context.Background(), id)
		return err == nil && rep.Status == status
	})
	return rep
}

func TestAPIBroadcastReachesExactlyItsAudience(t *testing.T) {
	f := newFixture(t, fastConfig())
	ctx := context.Background()
	f.subscribe(t,
		audience.Subscriber{Channel: gateway.Telegram, ID: "1001", Commune: "Vũ Phúc", Lang: "vi"},
		audience.Subscriber{Channel: gateway.Telegram, ID: "1002", Commune: "Vũ Phúc", Lang: "en"},
		audience.Subscriber{Channel: gateway.Telegram, ID: "1003", Commune: "Vũ Phúc"},     // blocked the bot
		audience.Subscriber{Channel: gateway.SMS, ID: "+84912000001", Commune: "vu phuc"},  // gets it
		audience.Subscriber{Channel: gateway.SMS, ID: "+84912000002", Commune: "Vũ Phúc"},  // unsubscribed
		audience.Subscriber{Channel: gateway.SMS, ID: "+84912000003", Commune: "Vũ Phúc"},  // opted out at Twilio (21610)
		audience.Subscriber{Channel: gateway.Telegram, ID: "2001", Commune: "Trần Lãm"},    // other commune
		audience.Subscriber{Channel: gateway.SMS, ID: "+84912000009", Commune: "Trần Lãm"}, // other commune
		audience.Subscriber{Channel: gateway.Terminal, ID: "local", Commune: "Vũ Phúc"},    // no sender
	)
	if err := f.aud.Stop(ctx, gateway.Telegram, "1003", audience.ReasonBlocked); err != nil {
		t.Fatal(err)
	}
	if err := f.aud.Unsubscribe(ctx, gateway.SMS, "+84912000002"); err != nil {
		t.Fatal(err)
	}
	f.sms.fail = func(to string, _ int) error {
		if to == "+84912000003" {
			return &gateway.SendError{Kind: gateway.Stopped, Reason: "opted_out"}
		}
		return nil
	}
	body := `{"text": {"vi": "Tiền trợ cấp tháng 12 của xã Vũ Phúc sẽ chi trả ngày 10/12 tại nhà văn hóa thôn", "en": "The December allowance of Vu Phuc is paid on 10/12 at the village hall"},
	          "audience": {"communes": ["Vu Phuc"]}}`
	code, out := f.call(t, "POST", "/api/broadcasts", "secret", body)
	if code != http.StatusAccepted {
		t.Fatalf("POST = %d %v", code, out)
	}
	id, _ := out["id"].(string)
	if out["recipients"] != 4.0 || out["sms_segments"] != 2.0 {
		t.Fatalf("recipients/sms_segments = %v/%v, want 4 (2 telegram, 2 sms) and 2 (1 segment each)", out["recipients"], out["sms_segments"])
	}
	f.run(t)
	rep := f.waitStatus(t, id, StatusDone)

	want := map[string]int{"1001": 1, "1002": 1}
	if got := f.tg.deliveries(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("telegram deliveries = %v, want %v", got, want)
	}
	if got := f.sms.deliveries(); fmt.Sprint(got) != fmt.Sprint(map[string]int{"+84912000001": 1}) {
		t.Errorf("sms deliveries = %v", got)
	}
	if rep.Total != 6 || rep.Sent != 3 || rep.Failed["opted_out"] != 1 || rep.Skipped["blocked"] != 1 || rep.Skipped["unsubscribed"] != 1 || rep.Pending != 0 {
		t.Errorf("report = %+v", rep)
	}
	// The opted-out number is now stopped: left out of the next audience.
	if st, _ := f.aud.Stopped(ctx, gateway.SMS, "+84912000003"); !st {
		t.Error("a Stopped send error did not mark the recipient stopped")
	}
	for _, m := range append(f.tg.msgs, f.sms.msgs...) {
		if m.Priority || !strings.HasPrefix(m.Key, id+":") {
			t.Errorf("outbound %+v: bulk must not be priority and must carry the broadcast key", m)
		}
		if m.To == "1002" && !strings.HasPrefix(m.Reply.Text, "The December") {
			t.Errorf("English subscriber got %q", m.Reply.Text)
		}
		if m.Channel == gateway.SMS && m.Reply.Short != i18n.Fold(m.Reply.Short) {
			t.Errorf("SMS text keeps diacritics: %q", m.Reply.Short)
		}
	}
	// The API report agrees.
	code, out = f.call(t, "GET", "/api/broadcasts/"+id, "secret", "")
	if code != http.StatusOK || out["status"] != "done" || out["sent"] != 3.0 || out["total"] != 6.0 {
		t.Errorf("GET report = %d %v", code, out)
	}
	code, _ = f.call(t, "DELETE", "/api/broadcasts/"+id, "secret", "")
	if code != http.StatusConflict {
		t.Errorf("DELETE of a finished broadcast = %d, want 409", code)
	}
}

func TestAPIRejectsBadRequests(t *testing.T) {
	f := newFixture(t, fastConfig())
	long := strings.Repeat("Tiền trợ cấp chi trả tại nhà văn hóa thôn. ", 12)
	tests := []struct {
		name, method, path, token, body string
		code                            int
		errPart                         string
	}{
		{"no token", "POST", "/api/broadcasts", "", `{}`, 401, "token"},
		{"wrong token", "GET", "/api/broadcasts/b1", "nope", ``, 401, "token"},
		{"bad JSON", "POST", "/api/broadcasts", "secret", `{"text": `, 400, "bad JSON"},
		{"unknown field", "POST", "/api/broadcasts", "secret", `{"txt": {"vi": "x"}}`, 400, "unknown field"},
		{"empty text", "POST", "/api/broadcasts", "secret", `{"text": {"vi": "  "}}`, 400, "text is empty"},
		{"missing text", "POST", "/api/broadcasts", "secret", `{"audience": {}}`, 400, "text is empty"},
		{"unknown language", "POST", "/api/broadcasts", "secret", `{"text": {"fr": "x"}}`, 400, "unknown language"},
		{"unknown commune", "POST", "/api/broadcasts", "secret", `{"text": {"vi": "x"}, "audience": {"communes": ["Vu Phuc", "Atlantis"]}}`, 400, "Atlantis"},
		{"unknown category", "POST", "/api/broadcasts", "secret", `{"text": {"vi": "x"}, "audience": {"categories": ["rich"]}}`, 400, "rich"},
		{"unknown channel", "POST", "/api/broadcasts", "secret", `{"text": {"vi": "x"}, "audience": {"channels": ["fax"]}}`, 400, "fax"},
		{"bad send_at", "POST", "/api/broadcasts", "secret", `{"text": {"vi": "x"}, "send_at": "tomorrow"}`, 400, "RFC 3339"},
		{"SMS over budget", "POST", "/api/broadcasts", "secret", `{"text": {"vi": "` + long + `"}}`, 400, "segments"},
		{"oversized body", "POST", "/api/broadcasts", "secret", `{"text": {"vi": "` + strings.Repeat("x", 70<<10) + `"}}`, 413, "64 KiB"},
		{"token with a longer secret's prefix", "GET", "/api/broadcasts/b1", "secretsecret", ``, 401, "token"},
		{"unknown id", "GET", "/api/broadcasts/b999", "secret", ``, 404, "not found"},
		{"cancel unknown", "DELETE", "/api/broadcasts/b999", "secret", ``, 404, "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := f.call(t, tt.method, tt.path, tt.token, tt.body)
			msg, _ := out["error"].(string)
			if code != tt.code || !strings.Contains(msg, tt.errPart) {
				t.Fatalf("%s %s = %d %q, want %d containing %q", tt.method, tt.path, code, msg, tt.code, tt.errPart)
			}
		})
	}
	// Long text is fine when the audience has no SMS channel.
	code, out := f.call(t, "POST", "/api/broadcasts/preview", "secret", `{"text": {"vi": "`+long+`"}, "audience": {"channels": ["telegram"]}}`)
	if code != 200 {
		t.Fatalf("telegram-only preview = %d %v", code, out)
	}
	// Disabled API.
	h := f.svc.APIHandler("")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/api/broadcasts/b1", nil))
	if w.Code != 404 {
		t.Fatalf("API without ADMIN_TOKEN = %d, want 404", w.Code)
	}
}

func TestPreviewShowsSMSCost(t *testing.T) {
	f := newFixture(t, fastConfig())
	for i := range 3 {
		f.subscribe(t, audience.Subscriber{Channel: gateway.SMS, ID: fmt.Sprintf("+8491200000%d", i), Commune: "Hưng Hà", Lang: []string{"vi", "vi", "en"}[i]})
	}
	text := strings.Repeat("Đông Hưng chi trả ", 10) // 180 characters unaccented: 2 segments
	pv, err := f.svc.Preview(context.Background(), Request{Text: map[string]string{"vi": text, "en": "Paid on 10/12."}, Audience: Audience{Communes: []string{"Hưng Hà"}}})
	if err != nil {
		t.Fatal(err)
	}
	if pv.Recipients != 3 || pv.SMS["vi"].Segments != 2 || pv.SMS["vi"].Recipients != 2 || pv.SMS["en"].Segments != 1 || pv.SMSSegments != 5 {
		t.Fatalf("preview = %+v", pv)
	}
	if strings.ContainsAny(pv.SMS["vi"].Text, "ĐôưảÂ") {
		t.Fatalf("SMS preview keeps diacritics: %q", pv.SMS["vi"].Text)
	}
}

func TestScheduledBroadcastStartsAtSendAtAndCancelStopsIt(t *testing.T) {
	f := newFixture(t, fastConfig())
	f.subscribe(t, audience.Subscriber{Channel: gateway.Telegram, ID: "1", Commune: "Vũ Phúc"})
	f.run(t)
	ctx := context.Background()
	soon := time.Now().Add(300 * time.Millisecond).Format(time.RFC3339Nano)
	pv, err := f.svc.Create(ctx, Request{Text: map[string]string{"vi": "Họp dân"}, SendAt: soon})
	if err != nil || pv.Status != StatusScheduled {
		t.Fatalf("Create = %+v, %v", pv, err)
	}
	f.waitStatus(t, pv.ID, StatusDone)
	if f.tg.deliveries()["1"] != 1 {
		t.Fatalf("deliveries = %v", f.tg.deliveries())
	}
	later, err := f.svc.Create(ctx, Request{Text: map[string]string{"vi": "Họp dân"}, SendAt: time.Now().Add(time.Hour).Format(time.RFC3339)})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Cancel(ctx, later.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Cancel(ctx, later.ID); err != nil {
		t.Fatalf("second cancel = %v, want nil", err)
	}
	rep, _ := f.svc.Report(ctx, later.ID)
	if rep.Status != StatusCancelled || rep.Sent != 0 || rep.Finished == nil {
		t.Fatalf("cancelled scheduled report = %+v", rep)
	}
}

func TestCancelStopsSendingPromptly(t *testing.T) {
	cfg := fastConfig()
	cfg.Workers = 2
	f := newFixture(t, cfg)
	for i := range 50 {
		f.subscribe(t, audience.Subscriber{Channel: gateway.Telegram, ID: fmt.Sprint(5000 + i), Commune: "Vũ Phúc"})
	}
	f.tg.gate = make(chan struct{})
	f.run(t)
	ctx := context.Background()
	pv, err := f.svc.Create(ctx, Request{Text: map[string]string{"vi": "Thông báo"}})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		f.tg.gate <- struct{}{}
	}
	if err := f.svc.Cancel(ctx, pv.ID); err != nil {
		t.Fatal(err)
	}
	close(f.tg.gate) // whatever is still in flight goes through
	waitFor(t, 10*time.Second, "cancelled broadcast drained", func() bool {
		rep, _ := f.svc.Report(ctx, pv.ID)
		return rep.Finished != nil
	})
	rep, _ := f.svc.Report(ctx, pv.ID)
	sent := len(f.tg.deliveries())
	// At most the two workers' sends in flight at the cancel pass through.
	if rep.Status != StatusCancelled || sent > 5+cfg.Workers || rep.Skipped["cancelled"] != 50-sent || rep.Sent != sent {
		t.Fatalf("after cancel: sent %d, report %+v", sent, rep)
	}
}

func TestSendErrorsRetryOrFail(t *testing.T) {
	f := newFixture(t, fastConfig())
	f.subscribe(t,
		audience.Subscriber{Channel: gateway.Telegram, ID: "1", Commune: "Vũ Phúc"}, // throttled twice, then delivered
		audience.Subscriber{Channel: gateway.Telegram, ID: "2", Commune: "Vũ Phúc"}, // timeout after sending: not retried
		audience.Subscriber{Channel: gateway.Telegram, ID: "3", Commune: "Vũ Phúc"}, // bad chat: final
		audience.Subscriber{Channel: gateway.Telegram, ID: "4", Commune: "Vũ Phúc"}, // blocked the bot
	)
	f.tg.fail = func(to string, call int) error {
		switch {
		case to == "1" && call <= 2:
			return &gateway.SendError{Kind: gateway.Retryable, Reason: "throttled", RetryAfter: 10 * time.Millisecond}
		case to == "2":
			return &gateway.SendError{Kind: gateway.Unknown, Reason: "timeout"}
		case to == "3":
			return &gateway.SendError{Kind: gateway.Final, Reason: "chat not found"}
		case to == "4":
			return &gateway.SendError{Kind: gateway.Stopped, Reason: "blocked"}
		}
		return nil
	}
	f.run(t)
	pv, err := f.svc.Create(context.Background(), Request{Text: map[string]string{"vi": "Thông báo"}})
	if err != nil {
		t.Fatal(err)
	}
	rep := f.waitStatus(t, pv.ID, StatusDone)
	f.tg.mu.Lock()
	calls := fmt.Sprint(f.tg.calls)
	f.tg.mu.Unlock()
	if calls != "map[1:3 2:1 3:1 4:1]" {
		t.Errorf("send calls = %s", calls)
	}
	if rep.Sent != 1 || rep.Failed["timeout"] != 1 || rep.Failed["chat_not_found"] != 1 || rep.Failed["blocked"] != 1 {
		t.Errorf("report = %+v", rep)
	}
	if st, _ := f.aud.Status(context.Background(), gateway.Telegram, "4"); st != audience.ReasonBlocked {
		t.Errorf("blocked recipient status = %q", st)
	}
}

// TestKillAndResume kills a sending replica half-way (its Redis connection is cut and its sends
// in flight never return, as with kill -9), then starts a new replica: every recipient gets the
// broadcast, and only the messages in flight at the kill may arrive twice.
func TestKillAndResume(t *testing.T) {
	rdb := redistest.New(t)
	opts := *rdb.(*redis.Client).Options()
	rdb1 := redis.NewClient(&opts)
	aud := audience.New(rdb)
	ctx := context.Background()
	const tgN, smsN = 300, 100
	for i := range tgN {
		if err := aud.Subscribe(ctx, audience.Subscriber{Channel: gateway.Telegram, ID: fmt.Sprint(10000 + i), Commune: "Vũ Phúc"}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range smsN {
		if err := aud.Subscribe(ctx, audience.Subscriber{Channel: gateway.SMS, ID: fmt.Sprintf("+849130%05d", i), Commune: "Vũ Phúc"}); err != nil {
			t.Fatal(err)
		}
	}
	// Deliveries across both lives of the service.
	var mu sync.Mutex
	got := map[string]int{}
	total := 0
	killed := make(chan struct{})
	never := make(chan struct{})
	t.Cleanup(func() { close(never) })
	inflight := 0
	var once sync.Once
	dying := senderFunc(func(ctx context.Context, m gateway.Outbound) error {
		mu.Lock()
		select {
		case <-killed:
			// In flight at the kill: it may have reached the provider; worst case, count it.
			got[m.To]++
			inflight++
			mu.Unlock()
			<-never
			return errors.New("killed")
		default:
		}
		got[m.To]++
		total++
		if total == (tgN+smsN)/2 {
			once.Do(func() { close(killed); rdb1.Close() })
		}
		mu.Unlock()
		return nil
	})
	cfg := fastConfig()
	svc1 := New(rdb1, audience.New(rdb1), map[gateway.Channel]gateway.Sender{gateway.Telegram: dying, gateway.SMS: dying}, catalog(t), cfg, nil)
	ctx1, cancel1 := context.WithCancel(ctx)
	t.Cleanup(cancel1)
	go svc1.Run(ctx1) //nolint:errcheck // killed: never drains
	pv, err := svc1.Create(ctx, Request{Text: map[string]string{"vi": "Tiền trợ cấp tháng 12 chi trả ngày 10/12"}})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-killed:
	case <-time.After(15 * time.Second):
		t.Fatal("first replica never reached half-way")
	}

	healthy := senderFunc(func(ctx context.Context, m gateway.Outbound) error {
		mu.Lock()
		got[m.To]++
		mu.Unlock()
		return nil
	})
	svc2 := New(rdb, aud, map[gateway.Channel]gateway.Sender{gateway.Telegram: healthy, gateway.SMS: healthy}, catalog(t), cfg, nil)
	ctx2, cancel2 := context.WithCancel(ctx)
	done2 := make(chan struct{})
	go func() { defer close(done2); svc2.Run(ctx2) }() //nolint:errcheck
	defer func() { cancel2(); <-done2 }()
	var rep *Report
	waitFor(t, 20*time.Second, "resumed broadcast done", func() bool {
		rep, err = svc2.Report(ctx, pv.ID)
		return err == nil && rep.Status == StatusDone
	})
	mu.Lock()
	defer mu.Unlock()
	missing, twice := 0, 0
	for i := range tgN + smsN {
		to := fmt.Sprint(10000 + i)
		if i >= tgN {
			to = fmt.Sprintf("+849130%05d", i-tgN)
		}
		switch n := got[to]; {
		case n == 0:
			missing++
		case n > 1:
			twice += n - 1
		}
	}
	t.Logf("kill at %d/%d: sends hung by the kill %d, delivered twice %d, resent %d", (tgN+smsN)/2, tgN+smsN, inflight, twice, rep.Resent)
	if missing != 0 {
		t.Errorf("%d recipients never got the broadcast", missing)
	}
	// In flight at the kill: the sends claimed by the dead replica and never recorded (at most
	// one per worker); the takeover resends exactly those and counts them.
	if twice > rep.Resent || rep.Resent > 2*cfg.Workers {
		t.Errorf("%d duplicates, %d resent: more than the %d workers could hold in flight", twice, rep.Resent, 2*cfg.Workers)
	}
	if rep.Sent != tgN+smsN || rep.Total != tgN+smsN {
		t.Errorf("report = %+v", rep)
	}
}

type senderFunc func(context.Context, gateway.Outbound) error

func (f senderFunc) Send(ctx context.Context, m gateway.Outbound) error { return f(ctx, m) }

// TestCrashBetweenClaimAndSend: a replica that dies right after claiming leaves the recipient
// claimed; the takeover sends it (once) and counts it as resent.
func TestCrashBetweenClaimAndSend(t *testing.T) {
	f := newFixture(t, fastConfig())
	f.subscribe(t, audience.Subscriber{Channel: gateway.Telegram, ID: "42", Commune: "Vũ Phúc"})
	ctx := context.Background()
	crashed := make(chan struct{})
	f.svc.crashAfterClaim = func() bool { close(crashed); return true }
	ctx1, cancel1 := context.WithCancel(ctx)
	done1 := make(chan struct{})
	go func() { defer close(done1); f.svc.Run(ctx1) }() //nolint:errcheck
	pv, err := f.svc.Create(ctx, Request{Text: map[string]string{"vi": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	<-crashed
	cancel1()
	<-done1
	svc2 := New(f.rdb, f.aud, f.senders, f.catalog, fastConfig(), nil)
	ctx2, cancel2 := context.WithCancel(ctx)
	done2 := make(chan struct{})
	go func() { defer close(done2); svc2.Run(ctx2) }() //nolint:errcheck
	defer func() { cancel2(); <-done2 }()
	var rep *Report
	waitFor(t, 10*time.Second, "takeover", func() bool {
		rep, _ = svc2.Report(ctx, pv.ID)
		return rep != nil && rep.Status == StatusDone
	})
	if f.tg.deliveries()["42"] != 1 || rep.Resent != 1 || rep.Sent != 1 {
		t.Fatalf("deliveries %v, report %+v", f.tg.deliveries(), rep)
	}
}

type fakeSchedules map[string][]Schedule

func (f fakeSchedules) Payments(_ context.Context, commune string, now time.Time) ([]Schedule, error) {
	var out []Schedule
	for _, sc := range f[commune] {
		if sc.End.After(now) {
			out = append(out, sc)
		}
	}
	return out, nil
}

func TestPaymentDayReminderOnce(t *testing.T) {
	cfg := fastConfig()
	cfg.ReminderDaysBefore = 2
	f := newFixture(t, cfg)
	f.subscribe(t,
		audience.Subscriber{Channel: gateway.Telegram, ID: "1", Commune: "Vũ Phúc", Lang: "vi"},
		audience.Subscriber{Channel: gateway.SMS, ID: "+84912000001", Commune: "Vũ Phúc", Lang: "en"},
		audience.Subscriber{Channel: gateway.Telegram, ID: "2", Commune: "Trần Lãm"},
	)
	start := time.Date(2025, 12, 10, 7, 30, 0, 0, vnZone)
	f.svc.WithReminders(fakeSchedules{"Vũ Phúc": {{Commune: "Vũ Phúc", Start: start, End: start.Add(4 * time.Hour), Place: "Nhà văn hóa thôn Đông", Method: "cash"}}})
	ctx := context.Background()
	tests := []struct {
		now  time.Time
		want int
	}{
		{time.Date(2025, 12, 8, 6, 0, 0, 0, vnZone), 0},  // 2 days before, but before 07:00
		{time.Date(2025, 12, 7, 9, 0, 0, 0, vnZone), 0},  // 3 days before
		{time.Date(2025, 12, 8, 9, 0, 0, 0, vnZone), 1},  // due
		{time.Date(2025, 12, 8, 10, 0, 0, 0, vnZone), 0}, // already queued
		{time.Date(2025, 12, 9, 9, 0, 0, 0, vnZone), 0},  // still only once
	}
	for _, tt := range tests {
		f.svc.now = func() time.Time { return tt.now }
		n, err := f.svc.RemindDue(ctx)
		if err != nil || n != tt.want {
			t.Fatalf("RemindDue at %v = %d, %v; want %d", tt.now, n, err, tt.want)
		}
	}
	f.svc.now = time.Now
	f.run(t)
	f.waitStatus(t, "r-20251210-vu_phuc", StatusDone)
	if len(f.tg.msgs) != 1 || f.tg.msgs[0].To != "1" || !strings.Contains(f.tg.msgs[0].Reply.Text, "10/12/2025") || !strings.Contains(f.tg.msgs[0].Reply.Text, "Nhà văn hóa thôn Đông") {
		t.Fatalf("telegram reminders = %+v", f.tg.msgs)
	}
	if len(f.sms.msgs) != 1 || !strings.Contains(f.sms.msgs[0].Reply.Short, "Nha van hoa thon Dong") || !strings.HasPrefix(f.sms.msgs[0].Reply.Short, "Reminder") {
		t.Fatalf("sms reminders = %+v", f.sms.msgs)
	}
}

type fakeChanges struct {
	watchers map[string][]Watcher
	phones   map[string]string
}

func (f fakeChanges) Watchers(_ context.Context, code string) ([]Watcher, error) {
	return f.watchers[code], nil
}
func (f fakeChanges) Phone(_ context.Context, code string) (string, error) {
	return f.phones[code], nil
}
func (f fakeChanges) Render(lang, code, status string) gateway.Reply {
	return gateway.Reply{Text: lang + ":" + code + ":" + status}
}

func TestStatusChangeNotifications(t *testing.T) {
	f := newFixture(t, fastConfig())
	ctx := context.Background()
	f.subscribe(t, audience.Subscriber{Channel: gateway.SMS, ID: "+84912000001", Commune: "Vũ Phúc", Lang: "en"})
	f.subscribe(t, audience.Subscriber{Channel: gateway.SMS, ID: "+84912000003", Commune: "Vũ Phúc"})
	if err := f.aud.Stop(ctx, gateway.SMS, "+84912000003", audience.ReasonOptedOut); err != nil {
		t.Fatal(err)
	}
	if err := f.aud.Stop(ctx, gateway.Telegram, "77", audience.ReasonBlocked); err != nil {
		t.Fatal(err)
	}
	f.svc.WithNotifier(fakeChanges{
		watchers: map[string][]Watcher{
			"TB-2025-000001": {{Channel: gateway.Telegram, ChatID: "55", Lang: "vi"}, {Channel: gateway.Telegram, ChatID: "77", Lang: "vi"}},
			"TB-2025-000002": {{Channel: gateway.Telegram, ChatID: "55", Lang: "vi"}},
		},
		phones: map[string]string{
			"TB-2025-000001": "+84912000001", // subscribed on SMS: notified
			"TB-2025-000002": "+84912000002", // never opted in: not notified
			"TB-2025-000003": "+84912000003", // opted out at the provider: not notified
		},
	})
	f.run(t)
	waitFor(t, 5*time.Second, "notify group", func() bool {
		gs, err := f.rdb.XInfoGroups(ctx, ChangesStream(7)).Result()
		return err == nil && len(gs) == 1
	})
	var ids []string
	for _, c := range []struct{ code, status string }{{"TB-2025-000001", "approved"}, {"TB-2025-000002", "paid"}, {"TB-2025-000003", "approved"}, {"TB-2025-000001", "paid"}} {
		id, err := f.rdb.XAdd(ctx, &redis.XAddArgs{Stream: ChangesStream(7), Values: map[string]any{"code": c.code, "status": c.status, "prev_status": "received", "updated_at": "2025-12-01T08:00:00+07:00"}}).Result()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for _, id := range ids {
		f.waitStatus(t, "n-07-"+id, StatusDone)
	}
	tg := map[string]int{}
	for _, m := range f.tg.msgs {
		tg[m.To+" "+m.Reply.Text]++
	}
	wantTG := map[string]int{"55 vi:TB-2025-000001:approved": 1, "55 vi:TB-2025-000002:paid": 1, "55 vi:TB-2025-000001:paid": 1}
	if fmt.Sprint(tg) != fmt.Sprint(wantTG) {
		t.Errorf("telegram notifications = %v, want %v", tg, wantTG)
	}
	var sms []string
	for _, m := range f.sms.msgs {
		sms = append(sms, m.To+" "+m.Reply.Text)
	}
	if fmt.Sprint(sms) != "[+84912000001 en:TB-2025-000001:approved +84912000001 en:TB-2025-000001:paid]" {
		t.Errorf("sms notifications = %v", sms)
	}
	rep, _ := f.svc.Report(ctx, "n-07-"+ids[0])
	if rep.Kind != KindNotification || rep.Sent != 2 || rep.Skipped["blocked"] != 1 {
		t.Errorf("notification report = %+v", rep)
	}
	// Processing the same change again (a crash before the ack) notifies nobody twice.
	msgs, _ := f.rdb.XRange(ctx, ChangesStream(7), ids[0], ids[0]).Result()
	if err := f.svc.notify(ctx, 7, msgs[0]); err != nil {
		t.Fatal(err)
	}
	rep2, _ := f.svc.Report(ctx, "n-07-"+ids[0])
	if rep2.Total != rep.Total || rep2.Status != StatusDone {
		t.Errorf("re-processing changed the notification: %+v → %+v", rep, rep2)
	}
}

func TestStaffFlow(t *testing.T) {
	f := newFixture(t, fastConfig())
	f.subscribe(t,
		audience.Subscriber{Channel: gateway.Telegram, ID: "1", Commune: "Hưng Hà"},
		audience.Subscriber{Channel: gateway.SMS, ID: "+84912000001", Commune: "Hưng Hà"},
		audience.Subscriber{Channel: gateway.SMS, ID: "+84912000002", Commune: "Vũ Phúc"},
	)
	f.run(t)
	ctx := context.Background()
	say := func(args string) gateway.Reply {
		t.Helper()
		rs, err := f.svc.StaffCommand(ctx, 99, args)
		if err != nil || len(rs) != 1 {
			t.Fatalf("/broadcast %s = %v, %v", args, rs, err)
		}
		return rs[0]
	}
	if r := say(""); !strings.Contains(r.Text, "/broadcast vi") {
		t.Fatalf("help = %q", r.Text)
	}
	r := say("vi Tiền trợ cấp tháng 12 chi trả ngày 10/12 tại nhà văn hóa thôn")
	if len(r.Choices) != 1+len(testCommunes) || r.Choices[1].Payload != "/broadcast to Vũ Phúc" {
		t.Fatalf("audience step = %+v", r)
	}
	if r := say("to Atlantis"); !strings.Contains(r.Text, "Atlantis") {
		t.Fatalf("unknown commune = %q", r.Text)
	}
	r = say("to hung ha")
	if !strings.Contains(r.Text, "Hưng Hà") || !strings.Contains(r.Text, "2 (Telegram 1, SMS 1)") || !strings.Contains(r.Text, "Tien tro cap thang 12") {
		t.Fatalf("preview = %q", r.Text)
	}
	if r.Choices[0].Payload != "/broadcast send" {
		t.Fatalf("preview choices = %+v", r.Choices)
	}
	r = say("send")
	id := strings.Fields(strings.TrimPrefix(r.Text, "Đã nhận thông báo "))[0]
	id = strings.TrimSuffix(id, ",")
	f.waitStatus(t, id, StatusDone)
	if r := say("status " + id); !strings.Contains(r.Text, "Đã gửi: 2") {
		t.Fatalf("status = %q", r.Text)
	}
	if r := say("send"); !strings.Contains(r.Text, "Chưa có thông báo") {
		t.Fatalf("send without draft = %q", r.Text)
	}
	if d := f.sms.deliveries(); fmt.Sprint(d) != "map[+84912000001:1]" {
		t.Fatalf("sms deliveries = %v", d)
	}
}

func TestReportOutput(t *testing.T) {
	var buf bytes.Buffer
	rep := &Report{ID: "b1", Status: StatusDone, Total: 3, Sent: 2, Failed: map[string]int{"blocked": 1}, Skipped: map[string]int{}}
	if err := json.NewEncoder(&buf).Encode(rep); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"id":"b1"`, `"status":"done"`, `"total":3`, `"sent":2`, `"failed":{"blocked":1}`, `"skipped":{}`} {
		if !strings.Contains(buf.String(), k) {
			t.Errorf("report JSON %s lacks %s", buf.String(), k)
		}
	}
}

// TestProviderOutageDelaysInsteadOfFailing: while the provider proves it is not taking messages
// (connection refused) the sends are retried, for up to RetryFor, and everyone is reached once it
// is back; past RetryFor the recipient is counted failed, with the reason.
func TestProviderOutageDelaysInsteadOfFailing(t *testing.T) {
	cfg := fastConfig()
	// A worker retries its recipient in place: with fewer workers than recipients the one
	// watched below could wait behind the outage and never be tried.
	cfg.Workers = 8
	cfg.RetryMaxWait = 20 * time.Millisecond
	// Long enough that a loaded machine (the whole suite under -race) does not reach it during
	// the outage below; the recipient that never comes back is given up after it.
	cfg.RetryFor = 10 * time.Second
	f := newFixture(t, cfg)
	for i := 1; i <= 6; i++ {
		f.subscribe(t, audience.Subscriber{Channel: gateway.SMS, ID: fmt.Sprintf("+8491234560%d", i), Commune: "Vũ Phúc"})
	}
	var mu sync.Mutex
	down := true
	f.sms.fail = func(to string, call int) error {
		mu.Lock()
		defer mu.Unlock()
		if to == "+84912345606" {
			return &gateway.SendError{Kind: gateway.Retryable, Reason: "connection"} // never comes back
		}
		if down {
			return &gateway.SendError{Kind: gateway.Retryable, Reason: "connection"}
		}
		return nil
	}
	f.run(t)
	pv, err := f.svc.Create(context.Background(), Request{Text: map[string]string{"vi": "Thông báo"}})
	if err != nil {
		t.Fatal(err)
	}
	// Many more failed tries than the old four, and nobody counted failed meanwhile.
	waitFor(t, 8*time.Second, "retries during the outage", func() bool {
		f.sms.mu.Lock()
		defer f.sms.mu.Unlock()
		return f.sms.calls["+84912345601"] >= 6
	})
	if rep, _ := f.svc.Report(context.Background(), pv.ID); rep.Sent != 0 || len(rep.Failed) != 0 {
		t.Fatalf("during the outage: %+v", rep)
	}
	mu.Lock()
	down = false
	mu.Unlock()
	rep := f.waitStatus(t, pv.ID, StatusDone)
	if rep.Sent != 5 || rep.Failed["connection"] != 1 {
		t.Errorf("report %+v", rep)
	}
	for to, n := range f.sms.deliveries() {
		if n != 1 {
			t.Errorf("%s got it %d times", to, n)
		}
	}
}

// A sender whose own storage fails (its idempotency key or rate limit in Redis: Reason "redis")
// did not reach the provider: the recipient waits, past RetryFor and MaxAttempts, and is sent
// once the storage is back — never counted failed (before: failed after four quick tries).
func TestSenderStorageErrorsNeverFail(t *testing.T) {
	cfg := fastConfig()
	cfg.RetryMaxWait = 20 * time.Millisecond
	cfg.RetryFor = 100 * time.Millisecond
	cfg.MaxAttempts = 2
	f := newFixture(t, cfg)
	f.subscribe(t, audience.Subscriber{Channel: gateway.SMS, ID: "+84912345670", Commune: "Vũ Phúc"})
	var mu sync.Mutex
	down := true
	f.sms.fail = func(to string, call int) error {
		mu.Lock()
		defer mu.Unlock()
		if down {
			return &gateway.SendError{Kind: gateway.Retryable, Reason: "redis"}
		}
		return nil
	}
	f.run(t)
	pv, err := f.svc.Create(context.Background(), Request{Text: map[string]string{"vi": "Thông báo"}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "tries past RetryFor and MaxAttempts", func() bool {
		f.sms.mu.Lock()
		defer f.sms.mu.Unlock()
		return f.sms.calls["+84912345670"] >= 8
	})
	if rep, _ := f.svc.Report(context.Background(), pv.ID); rep.Sent != 0 || len(rep.Failed) != 0 || rep.Status != StatusSending {
		t.Fatalf("while the sender's storage is away: %+v", rep)
	}
	mu.Lock()
	down = false
	mu.Unlock()
	rep := f.waitStatus(t, pv.ID, StatusDone)
	if rep.Sent != 1 || len(rep.Failed) != 0 || f.sms.deliveries()["+84912345670"] != 1 {
		t.Errorf("report %+v, deliveries %v", rep, f.sms.deliveries())
	}
}

// A bank-transfer day is announced as a transfer: no hour, place or papers to bring.
func TestBankTransferReminderSaysNoNeedToCome(t *testing.T) {
	f := newFixture(t, fastConfig())
	start := time.Date(2025, 12, 4, 8, 0, 0, 0, vnZone)
	round := []Schedule{{Commune: "Vũ Phúc", Start: start, End: start.Add(9 * time.Hour), Place: "Tài khoản ngân hàng đã đăng ký", Method: "bank"}}
	vi, en := f.svc.reminderReply("vi", round), f.svc.reminderReply("en", round)
	for _, r := range []gateway.Reply{vi, en} {
		for _, s := range []string{r.Text, r.Short} {
			if !strings.Contains(s, "04/12") || strings.Contains(s, "08:00") || strings.Contains(strings.ToLower(s), "cccd") ||
				strings.Contains(s, "căn cước") || strings.Contains(s, "ID card") || strings.Contains(s, "Tài khoản ngân hàng đã đăng ký") {
				t.Errorf("bank reminder: %q", s)
			}
		}
	}
	if !strings.Contains(vi.Text, "tài khoản đã đăng ký") || !strings.Contains(vi.Text, "không cần đến") || !strings.Contains(vi.Short, "chuyen khoan 04/12") || !strings.Contains(en.Text, "registered account") {
		t.Errorf("bank reminder does not say it is a transfer: %q / %q / %q", vi.Text, vi.Short, en.Text)
	}
}

// One reminder announces the round: every method's session, each with its day (and for those
// who go, the hour and place), in one message; the later sessions of the round are not
// announced again when their turn comes; the next month's round is.
func TestOneReminderForTheWholeRound(t *testing.T) {
	cfg := fastConfig()
	cfg.ReminderDaysBefore = 2
	f := newFixture(t, cfg)
	f.subscribe(t, audience.Subscriber{Channel: gateway.Telegram, ID: "1", Commune: "Vũ Phúc", Lang: "vi"},
		audience.Subscriber{Channel: gateway.SMS, ID: "+84912000001", Commune: "Vũ Phúc"})
	at := func(m time.Month, d, h int) time.Time { return time.Date(2025, m, d, h, 0, 0, 0, vnZone) }
	sessions := []Schedule{
		{Commune: "Vũ Phúc", Start: at(12, 4, 8), End: at(12, 4, 17), Place: "Tài khoản ngân hàng đã đăng ký", Method: "bank"},
		{Commune: "Vũ Phúc", Start: at(12, 7, 7).Add(30 * time.Minute), End: at(12, 7, 11), Place: "Nhà văn hóa thôn Đông", Method: "cash"},
		{Commune: "Vũ Phúc", Start: at(12, 8, 13).Add(30 * time.Minute), End: at(12, 8, 16), Place: "Bưu điện Vũ Phúc", Method: "post"},
		{Commune: "Vũ Phúc", Start: at(1, 5, 7).AddDate(1, 0, 0), End: at(1, 5, 11).AddDate(1, 0, 0), Place: "Nhà văn hóa thôn Đông", Method: "cash"},
	}
	f.svc.WithReminders(fakeSchedules{"Vũ Phúc": sessions})
	ctx := context.Background()
	for _, tt := range []struct {
		now  time.Time
		want int
	}{
		{at(12, 2, 9), 1},                 // two days before the bank transfer: the round
		{at(12, 5, 9), 0},                 // the cash session's turn: already announced
		{at(12, 6, 9), 0},                 // the post office's: already announced
		{at(12, 20, 9), 0},                // nothing due
		{at(1, 3, 9).AddDate(1, 0, 0), 1}, // January's round
	} {
		f.svc.now = func() time.Time { return tt.now }
		if n, err := f.svc.RemindDue(ctx); err != nil || n != tt.want {
			t.Fatalf("RemindDue at %v = %d, %v; want %d", tt.now, n, err, tt.want)
		}
	}
	f.svc.now = time.Now
	f.run(t)
	f.waitStatus(t, "r-20251204-vu_phuc", StatusDone)
	var tg, sm []gateway.Outbound
	f.waitStatus(t, "r-20260105-vu_phuc", StatusDone)
	waitFor(t, 5*time.Second, "both reminders on both channels", func() bool {
		tg, sm = f.tg.sent(), f.sms.sent()
		return len(tg) == 2 && len(sm) == 2
	})
	december := func(ms []gateway.Outbound) gateway.Reply {
		for _, m := range ms {
			if strings.Contains(m.Reply.Text, "04/12/2025") {
				return m.Reply
			}
		}
		t.Fatalf("no December reminder in %+v", ms)
		return gateway.Reply{}
	}
	text := december(tg).Text
	for _, want := range []string{"Chuyển khoản: ngày 04/12/2025", "Tiền mặt: ngày 07/12/2025, từ 07:30, tại Nhà văn hóa thôn Đông", "Bưu điện: ngày 08/12/2025, từ 13:30, tại Bưu điện Vũ Phúc", "mang căn cước"} {
		if !strings.Contains(text, want) {
			t.Errorf("reminder lacks %q:\n%s", want, text)
		}
	}
	short := december(sm).Short
	if n, enc := sms.Segments(short); n > 2 || enc != sms.GSM7 || !strings.Contains(short, "chuyen khoan 04/12; tien mat 07/12 07:30") {
		t.Errorf("SMS reminder (%d segments, %v): %q", n, enc, short)
	}
}

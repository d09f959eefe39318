package webchat

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/data"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/redisconn/redistest"
	"github.com/socialaid-vn/gateway/throttle"
)

// echoCore answers every message with its text and one button, and records what it got.
type echoCore struct {
	mu  sync.Mutex
	ins []gateway.Inbound
}

func (e *echoCore) Handle(ctx context.Context, in gateway.Inbound) ([]gateway.Reply, error) {
	e.mu.Lock()
	e.ins = append(e.ins, in)
	e.mu.Unlock()
	return []gateway.Reply{{Text: "echo: " + in.Text, Choices: []gateway.Choice{{Label: "Menu", Payload: "/menu"}}, Intent: "help"}}, nil
}

func (e *echoCore) last() gateway.Inbound {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ins[len(e.ins)-1]
}

type fixture struct {
	rdb  redis.UniversalClient
	ch   *Channel
	core *echoCore
	url  string
}

func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	rdb := redistest.New(t)
	return newFixtureOn(t, rdb, cfg)
}

func newFixtureOn(t *testing.T, rdb redis.UniversalClient, cfg Config) *fixture {
	t.Helper()
	cat, err := i18n.LoadCatalog(data.Embedded())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Catalog = cat
	core := &echoCore{}
	ch, err := New(cfg, rdb, core, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	ch.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &fixture{rdb: rdb, ch: ch, core: core, url: srv.URL}
}

func client(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 20 * time.Second}
}

func post(t *testing.T, c *http.Client, url, ctype, body string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/webchat/api/messages", strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestAMessageIsAnsweredOnItsSession(t *testing.T) {
	f := newFixture(t, Config{})
	c := client(t)
	resp, body := post(t, c, f.url, "application/json", `{"text":"xin chao"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d %s", resp.StatusCode, body)
	}
	var out struct{ Replies []ReplyOut }
	if err := json.Unmarshal([]byte(body), &out); err != nil || len(out.Replies) != 1 || out.Replies[0].Text != "echo: xin chao" ||
		len(out.Replies[0].Choices) != 1 || out.Replies[0].Choices[0].Payload != "/menu" {
		t.Fatalf("replies = %s (%v)", body, err)
	}
	var ck *http.Cookie
	for _, k := range resp.Cookies() {
		if k.Name == cookieName {
			ck = k
		}
	}
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Partitioned {
		t.Fatalf("session cookie = %+v, want HttpOnly SameSite=Lax", ck)
	}
	first := f.core.last()
	if first.Channel != gateway.Web || !ValidSenderID(first.SenderID) || strings.Contains(first.SenderID, ck.Value) {
		t.Fatalf("inbound = %+v: want channel web and a sender id derived from (not equal to) the cookie", first)
	}
	post(t, c, f.url, "application/json", `{"text":"again","lang":"en"}`)
	if f.core.last().SenderID != first.SenderID {
		t.Fatal("the same cookie must be the same sender")
	}
	if f.core.last().Lang != "en" || first.Lang != "vi" {
		t.Fatalf("language hints %q then %q, want vi (default) then en (the page's)", first.Lang, f.core.last().Lang)
	}
	post(t, client(t), f.url, "application/json", `{"text":"someone else"}`)
	if f.core.last().SenderID == first.SenderID {
		t.Fatal("another browser must be another sender")
	}
}

func TestBadRequestsGetAClearErrorAndReachNobody(t *testing.T) {
	f := newFixture(t, Config{})
	c := client(t)
	cases := []struct {
		name, ctype, body string
		status            int
	}{
		{"form post", "application/x-www-form-urlencoded", "text=hi", 415},
		{"no content type", "", `{"text":"hi"}`, 415},
		{"bad JSON", "application/json", `{"text":`, 400},
		{"unknown field", "application/json", `{"text":"hi","x":1}`, 400},
		{"empty text", "application/json", `{"text":"   "}`, 400},
		{"invalid UTF-8", "application/json", "{\"text\":\"\xff\xfe\"}", 400},
		{"too long text", "application/json", `{"text":"` + strings.Repeat("a", MaxText+1) + `"}`, 413},
		{"body over 8 KiB", "application/json", `{"text":"` + strings.Repeat("á", MaxBody) + `"}`, 413},
	}
	for _, tc := range cases {
		resp, body := post(t, c, f.url, tc.ctype, tc.body)
		if resp.StatusCode != tc.status || !strings.Contains(body, `"error"`) {
			t.Errorf("%s: %d %s, want %d with an error", tc.name, resp.StatusCode, body, tc.status)
		}
	}
	if len(f.core.ins) != 0 {
		t.Fatalf("the core got %d messages from bad requests", len(f.core.ins))
	}
}

func TestRateLimitPerSession(t *testing.T) {
	f := newFixture(t, Config{SessionRate: throttle.Limit{Rate: 0.01, Burst: 3}})
	c := client(t)
	for i := 0; i < 3; i++ {
		if resp, body := post(t, c, f.url, "application/json", `{"text":"hi"}`); resp.StatusCode != 200 {
			t.Fatalf("message %d: %d %s", i+1, resp.StatusCode, body)
		}
	}
	resp, body := post(t, c, f.url, "application/json", `{"text":"hi"}`)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "giây") {
		t.Fatalf("4th message: %d %q %s, want 429 with Retry-After and a Vietnamese explanation", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	// Another session is not limited by this one.
	if resp, _ := post(t, client(t), f.url, "application/json", `{"text":"hi"}`); resp.StatusCode != 200 {
		t.Fatalf("another session: %d", resp.StatusCode)
	}
}

func TestRateLimitPerAddress(t *testing.T) {
	f := newFixture(t, Config{AddressRate: throttle.Limit{Rate: 0.01, Burst: 2}})
	for i := 0; i < 2; i++ {
		if resp, _ := post(t, client(t), f.url, "application/json", `{"text":"hi"}`); resp.StatusCode != 200 {
			t.Fatalf("message %d: %d", i+1, resp.StatusCode)
		}
	}
	if resp, _ := post(t, client(t), f.url, "application/json", `{"text":"hi"}`); resp.StatusCode != 429 {
		t.Fatalf("new sessions from one address past its limit: %d, want 429", resp.StatusCode)
	}
}

func TestCrossOriginRequests(t *testing.T) {
	f := newFixture(t, Config{Origins: []string{"https://portal.example.gov.vn"}})
	// A form on another site posting into someone's session is refused.
	resp, _ := post(t, client(t), f.url, "application/json", `{"text":"HUY"}`,
		"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	if resp.StatusCode != 403 {
		t.Fatalf("cross-origin post from a site not allowed: %d, want 403", resp.StatusCode)
	}
	// The portal that embeds the chat may call it with credentials.
	resp, body := post(t, client(t), f.url, "application/json", `{"text":"hi"}`,
		"Origin", "https://portal.example.gov.vn", "Sec-Fetch-Site", "cross-site")
	if resp.StatusCode != 200 {
		t.Fatalf("allowed origin: %d %s", resp.StatusCode, body)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != "https://portal.example.gov.vn" || resp.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("CORS headers = %v", resp.Header)
	}
	sc := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"SameSite=None", "Secure", "Partitioned", "HttpOnly"} {
		if !strings.Contains(sc, want) {
			t.Errorf("embedded session cookie %q lacks %s", sc, want)
		}
	}
	// Preflight.
	req, _ := http.NewRequest("OPTIONS", f.url+"/webchat/api/messages", nil)
	req.Header.Set("Origin", "https://portal.example.gov.vn")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type")
	pre, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	pre.Body.Close()
	if pre.StatusCode != 204 || !strings.Contains(pre.Header.Get("Access-Control-Allow-Headers"), "Content-Type") {
		t.Fatalf("preflight: %d %v", pre.StatusCode, pre.Header)
	}
	if _, err := New(Config{Catalog: f.ch.cat, Origins: []string{"portal.example.gov.vn/path"}}, f.rdb, f.core, nil, nil); err == nil {
		t.Fatal("an origin with a path must be refused at start-up")
	}
}

// stream is an SSE connection read line by line.
type stream struct {
	resp   *http.Response
	events chan sse
	close  func()
}

type sse struct{ id, event, data string }

func openStream(t *testing.T, c *http.Client, url, lastID string) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/webchat/api/events", nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	cl := *c
	cl.Timeout = 0
	resp, err := cl.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		cancel()
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &stream{resp: resp, events: make(chan sse, 100)}
	go func() {
		sc := bufio.NewScanner(resp.Body)
		var ev sse
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.data != "" {
					s.events <- ev
				}
				ev = sse{}
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[6:]
			}
		}
		close(s.events)
	}()
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	s.close = func() { cancel(); resp.Body.Close() }
	return s
}

func (s *stream) next(t *testing.T, within time.Duration) sse {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			t.Fatal("stream ended")
		}
		return ev
	case <-time.After(within):
		t.Fatalf("no event within %v", within)
	}
	return sse{}
}

// sessionOf opens a session (one message) and returns the client and its sender id.
func sessionOf(t *testing.T, f *fixture) (*http.Client, string) {
	t.Helper()
	c := client(t)
	post(t, c, f.url, "application/json", `{"text":"DK Vu Phuc"}`)
	return c, f.core.last().SenderID
}

func waitConnected(t *testing.T, ch *Channel, id string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for ch.Connected(id) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the stream did not register")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPushedMessagesReachTheStreamAndWaitForTheNextVisit(t *testing.T) {
	f := newFixture(t, Config{Poll: time.Minute})
	c, id := sessionOf(t, f)
	ctx := context.Background()
	st := openStream(t, c, f.url, "")
	waitConnected(t, f.ch, id)
	if err := f.ch.Send(ctx, gateway.Outbound{Channel: gateway.Web, To: id, Reply: gateway.Reply{Text: "Chi trả ngày 10/12", Intent: "broadcast"}, Key: "b1:web:" + id}); err != nil {
		t.Fatal(err)
	}
	ev := st.next(t, 10*time.Second)
	var p Pushed
	if err := json.Unmarshal([]byte(ev.data), &p); err != nil || p.Text != "Chi trả ngày 10/12" || p.Kind != "broadcast" || ev.event != "message" || ev.id == "" {
		t.Fatalf("event = %+v (%v)", ev, err)
	}
	// The same key is not pushed twice.
	if err := f.ch.Send(ctx, gateway.Outbound{To: id, Reply: gateway.Reply{Text: "Chi trả ngày 10/12"}, Key: "b1:web:" + id}); err != nil {
		t.Fatal(err)
	}
	st.close()
	deadline := time.Now().Add(10 * time.Second)
	for f.ch.Connected(id) > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	// While no page is open, a message waits for the session.
	if err := f.ch.Send(ctx, gateway.Outbound{To: id, Reply: gateway.Reply{Text: "Thông báo thứ hai", Intent: "broadcast"}}); err != nil {
		t.Fatal(err)
	}
	st2 := openStream(t, c, f.url, "")
	ev2 := st2.next(t, 10*time.Second)
	if !strings.Contains(ev2.data, "Thông báo thứ hai") {
		t.Fatalf("next visit got %+v, want the second message only (the first was delivered already)", ev2)
	}
	// A browser resuming with Last-Event-ID from the first event gets what followed it.
	st3 := openStream(t, c, f.url, ev.id)
	if ev3 := st3.next(t, 10*time.Second); ev3.id != ev2.id {
		t.Fatalf("resume after %s got %+v, want %s", ev.id, ev3, ev2.id)
	}
}

func TestPushToAnUnknownSessionIsReportedNotLost(t *testing.T) {
	f := newFixture(t, Config{})
	err := f.ch.Send(context.Background(), gateway.Outbound{To: senderID("gone"), Reply: gateway.Reply{Text: "x"}})
	se := gateway.SendErrorOf(err)
	if se == nil || se.Kind != gateway.Stopped || se.Reason != "session_expired" {
		t.Fatalf("push to an expired session = %v, want Stopped session_expired", err)
	}
	if se := gateway.SendErrorOf(f.ch.Send(context.Background(), gateway.Outbound{To: "12345", Reply: gateway.Reply{Text: "x"}})); se == nil || se.Kind != gateway.Final {
		t.Fatalf("push to a malformed id = %v, want Final", se)
	}
}

func TestAPushFromAnotherReplicaWakesTheStream(t *testing.T) {
	rdb := redistest.New(t)
	a := newFixtureOn(t, rdb, Config{Poll: time.Hour}) // only the notification can wake it in time
	b := newFixtureOn(t, rdb, Config{Poll: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { a.ch.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	c, id := sessionOf(t, a)
	st := openStream(t, c, a.url, "")
	waitConnected(t, a.ch, id)
	// Run subscribes asynchronously: push until the first one arrives (each push is stored, so
	// every one of them is delivered, in order).
	deadline := time.Now().Add(15 * time.Second)
	for {
		if err := b.ch.Send(ctx, gateway.Outbound{To: id, Reply: gateway.Reply{Text: "từ bản sao khác"}}); err != nil {
			t.Fatal(err)
		}
		select {
		case ev := <-st.events:
			if !strings.Contains(ev.data, "từ bản sao khác") {
				t.Fatalf("event %+v", ev)
			}
			return
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("a push made on replica b never woke the stream held by replica a")
		}
	}
}

// Shutdown ends the open streams at once, asking the browsers to reconnect.
func TestShutdownEndsStreams(t *testing.T) {
	f := newFixture(t, Config{Poll: time.Hour})
	c, id := sessionOf(t, f)
	st := openStream(t, c, f.url, "")
	waitConnected(t, f.ch, id)
	f.ch.Shutdown()
	ev := st.next(t, 10*time.Second)
	if ev.event != "reconnect" {
		t.Fatalf("event %+v, want reconnect", ev)
	}
	select {
	case _, ok := <-st.events:
		if ok {
			t.Fatal("the stream went on after Shutdown")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not end after Shutdown")
	}
}

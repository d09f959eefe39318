package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway/bot/bottest"
	"github.com/socialaid-vn/gateway/config"
	"github.com/socialaid-vn/gateway/internal/logtest"
	"github.com/socialaid-vn/gateway/lookup"
	"github.com/socialaid-vn/gateway/redisconn/redistest"
	"github.com/socialaid-vn/gateway/sms/smstest"
)

// Availability end to end: the real server on a real Redis that goes away (stopped, then
// started again), on a 3+3 Redis Cluster whose master is killed, and on Sentinel whose master
// is killed, with SMS webhook traffic (Twilio's, answered inline) throughout.

// availabilityServer builds the real server on redisURL with the Twilio transport and the demo
// records loaded, logging into logs.
func availabilityServer(t testing.TB, redisURL string, logs *logtest.Buffer, extra ...map[string]string) *server {
	t.Helper()
	vars := smsVars("http://127.0.0.1:1") // replies are inline TwiML: the REST API is not used
	for _, m := range extra {
		for k, v := range m {
			vars[k] = v
		}
	}
	vars["REDIS_URL"] = redisURL
	vars["LOOKUP_HASH_KEY"] = strings.Repeat("k", 32)
	cfg, err := config.Load(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	if logs != nil {
		log = slog.New(slog.NewJSONHandler(logs, nil))
	}
	srv, err := newServer(context.Background(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if err := lookup.LoadDemo(context.Background(), srv.apps, srv.fsys); err != nil {
		t.Fatal(err)
	}
	return srv
}

var smsSeq atomic.Int64

// postTwilio posts one signed Twilio webhook with a fresh MessageSid and returns the status and body.
func postTwilio(t testing.TB, srv *server, from, body string) (int, string) {
	sid := fmt.Sprintf("SM%032d", smsSeq.Add(1))
	form := twilioInbound(sid, from, body)
	rec := httptest.NewRecorder()
	srv.mux.ServeHTTP(rec, smstest.NewRequest("/sms/twilio", form, smstest.Sign(e2eTwilioToken, e2eBaseURL+"/sms/twilio", form)))
	return rec.Code, rec.Body.String()
}

const (
	faqSMS    = "HS NKT"                 // documents for people with disabilities: from memory
	statusSMS = "TT TB-2025-000123 4567" // a verified status: from the read model
)

// isFAQ and isStatus tell a normal answer; isUnavailable the degraded one; isBusy the error one.
func isFAQ(body string) bool         { return strings.Contains(body, "giay") || strings.Contains(body, "Giay") }
func isStatus(body string) bool      { return strings.Contains(body, "Dang nhan tro cap") }
func isUnavailable(body string) bool { return strings.Contains(body, "tam thoi chua xem duoc") }

func readyz(srv *server) (int, time.Duration) {
	start := time.Now()
	rec := httptest.NewRecorder()
	srv.mux.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	return rec.Code, time.Since(start)
}

// outage is how long Redis stays stopped in TestE2ERedisOutage (GATEWAY_TEST_OUTAGE, e.g. 30s).
func outage(t *testing.T) time.Duration {
	if v := os.Getenv("GATEWAY_TEST_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("GATEWAY_TEST_OUTAGE: %v", err)
		}
		return d
	}
	return 3 * time.Second
}

// Redis stopped, then started again: policy answers throughout, status "temporarily
// unavailable" meanwhile, then normal again without a restart; /readyz says so within its
// budget; the outage is logged once.
func TestE2ERedisOutage(t *testing.T) {
	t.Parallel() // it mostly waits for Redis: alongside the other parallel tests
	node := redistest.StartServer(t)
	var logs logtest.Buffer
	srv := availabilityServer(t, "redis://"+node.Addr, &logs)
	if _, body := postTwilio(t, srv, "+84900000101", statusSMS); !isStatus(body) {
		t.Fatalf("status before the outage: %s", body)
	}
	if code, _ := readyz(srv); code != 200 {
		t.Fatalf("/readyz %d before the outage", code)
	}
	node.Kill()
	down := time.Now()
	faqs, statuses := 0, 0
	var lastWeb time.Time
	for time.Since(down) < outage(t) {
		code, body := postTwilio(t, srv, "+84900000102", faqSMS)
		if code != 200 || !isFAQ(body) {
			t.Fatalf("FAQ %v into the outage: %d %s", time.Since(down).Round(time.Millisecond), code, body)
		}
		faqs++
		code, body = postTwilio(t, srv, "+84900000103", statusSMS)
		if code != 200 || !isUnavailable(body) {
			t.Fatalf("status %v into the outage: %d %s", time.Since(down).Round(time.Millisecond), code, body)
		}
		statuses++
		if c, took := readyz(srv); c != http.StatusServiceUnavailable || took > readyBudget {
			t.Fatalf("/readyz during the outage: %d in %v", c, took)
		}
		// The web chat once a second: one address may send 2 a second (burst 120), and
		// this loop is faster than that.
		if time.Since(lastWeb) >= time.Second {
			lastWeb = time.Now()
			web := webchatSay(t, srv, "giấy tờ cần những gì")
			if !strings.Contains(web, "giấy") || strings.Contains(web, "đang bận") {
				t.Fatalf("web chat during the outage: %s", web)
			}
		}
		time.Sleep(50 * time.Millisecond) // paced traffic through the outage, not a wait for a result
	}
	node.Restart(t)
	back := time.Now()
	eventually(t, 15*time.Second, "status answered again after Redis came back", func() bool {
		_, body := postTwilio(t, srv, "+84900000104", statusSMS)
		return isStatus(body)
	})
	t.Logf("outage %v: %d FAQ answered, %d status 'temporarily unavailable'; normal again %v after the restart",
		outage(t), faqs, statuses, time.Since(back).Round(10*time.Millisecond))
	if code, _ := readyz(srv); code != 200 {
		t.Errorf("/readyz %d after the outage", code)
	}
	if n := strings.Count(logs.String(), "redis unavailable: answering from memory"); n != 1 {
		t.Errorf("the outage logged %d times, want once", n)
	}
	if !strings.Contains(logs.String(), "redis reachable again") {
		t.Error("the recovery is not logged")
	}
}

// webchatSay posts one web chat message (a new session) and returns the replies' JSON.
func webchatSay(t testing.TB, srv *server, text string) string {
	req := httptest.NewRequest("POST", "/webchat/api/messages", bytes.NewBufferString(fmt.Sprintf(`{"text":%q}`, text)))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	srv.mux.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("web chat %d: %s", rec.Code, rec.Body.String())
	}
	return rec.Body.String()
}

// failoverRun is webhook traffic (status checks, whose record lives on one master) while that
// master is killed: the requests that failed, and the last failure relative to the promotion.
type failoverRun struct {
	requests, failed, failedLate int
	lastFail                     time.Duration // after the promotion (negative: before it)
	promotion                    time.Duration // from the kill
	firstReady                   time.Duration // /readyz 200 again, after the promotion
}

func (r failoverRun) String() string {
	return fmt.Sprintf("%d requests, %d failed, %d later than 5 s after the promotion; last failure %v after it; promotion %v after the kill; /readyz ok %v after it",
		r.requests, r.failed, r.failedLate, r.lastFail.Round(10*time.Millisecond), r.promotion.Round(10*time.Millisecond), r.firstReady.Round(10*time.Millisecond))
}

// trafficThroughFailover sends status SMS from workers goroutines until after has passed since
// promote() returned; kill is called once traffic flows.
func trafficThroughFailover(t testing.TB, srv *server, workers int, after time.Duration, kill func(), promote func() time.Time) failoverRun {
	var (
		mu      sync.Mutex
		run     failoverRun
		fails   []time.Time
		stop    atomic.Bool
		wg      sync.WaitGroup
		started = make(chan struct{})
		once    sync.Once
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			from := fmt.Sprintf("+8490000020%d", w)
			for !stop.Load() {
				code, body := postTwilio(t, srv, from, statusSMS)
				mu.Lock()
				run.requests++
				if code != 200 || !isStatus(body) {
					run.failed++
					fails = append(fails, time.Now())
				}
				mu.Unlock()
				once.Do(func() { close(started) })
				time.Sleep(10 * time.Millisecond) // paced traffic
			}
		}()
	}
	<-started
	killed := time.Now()
	kill()
	promoted := promote()
	run.promotion = promoted.Sub(killed)
	run.firstReady = -1
	for time.Since(promoted) < after {
		if run.firstReady < 0 {
			if code, _ := readyz(srv); code == 200 {
				run.firstReady = time.Since(promoted)
			}
		}
		time.Sleep(50 * time.Millisecond) // the traffic runs meanwhile
	}
	stop.Store(true)
	wg.Wait()
	for _, f := range fails {
		d := f.Sub(promoted)
		if d > 5*time.Second {
			run.failedLate++
		}
		if run.lastFail == 0 || d > run.lastFail {
			run.lastFail = d
		}
	}
	return run
}

// A master of a 3+3 cluster killed during webhook traffic: nothing fails later than 5 s after
// its replica is promoted, and /readyz is ok again within that time.
func TestE2EClusterFailover(t *testing.T) {
	t.Parallel() // it mostly waits for Redis: alongside the other parallel tests
	c := redistest.StartCluster(t)
	srv := availabilityServer(t, c.URL(), nil)
	if _, body := postTwilio(t, srv, "+84900000301", statusSMS); !isStatus(body) {
		t.Fatalf("status before the kill: %s", body)
	}
	if _, err := c.MasterOf(lookupTag).Do(context.Background(), "WAIT", 1, 5000); err != nil {
		t.Fatal(err)
	}
	var dead *redistest.Node
	run := trafficThroughFailover(t, srv, 4, 6*time.Second,
		func() { dead = c.KillMaster(lookupTag) },
		func() time.Time { _, at := c.WaitPromoted(dead, 30*time.Second); return at })
	t.Log(run)
	if run.failedLate > 0 || run.firstReady < 0 || run.firstReady > 5*time.Second {
		t.Errorf("after the promotion: %v", run)
	}
}

// The same with Sentinel: the master killed, the replica promoted by the sentinels.
func TestE2ESentinelFailover(t *testing.T) {
	t.Parallel() // it mostly waits for Redis: alongside the other parallel tests
	s := redistest.StartSentinel(t)
	srv := availabilityServer(t, s.URL(), nil)
	if _, body := postTwilio(t, srv, "+84900000401", statusSMS); !isStatus(body) {
		t.Fatalf("status before the kill: %s", body)
	}
	// The replica must have the records before the master dies.
	if _, err := s.Master().Do(context.Background(), "WAIT", 1, 5000); err != nil {
		t.Fatal(err)
	}
	var dead *redistest.Node
	run := trafficThroughFailover(t, srv, 4, 6*time.Second,
		func() { dead = s.KillMaster() },
		func() time.Time { _, at := s.WaitFailover(dead, 30*time.Second); return at })
	t.Log(run)
	if run.failedLate > 0 || run.firstReady < 0 || run.firstReady > 5*time.Second {
		t.Errorf("after the failover: %v", run)
	}
}

// lookupTag is a key of the read model's partition: its master is the one killed.
const lookupTag = "{lookup:changes}"

// BenchmarkFailover measures, on a real 3+3 cluster and on Sentinel, the webhook requests that
// fail when a master is killed: in total, later than 5 s after the promotion (target 0), and
// when the last one failed relative to the promotion. One failover per iteration; run with
// -benchtime 1x (or 3x) and -run '^$'.
func BenchmarkFailover(b *testing.B) {
	for _, kind := range []string{"cluster", "sentinel"} {
		b.Run(kind, func(b *testing.B) {
			var total failoverRun
			for range b.N {
				var run failoverRun
				switch kind {
				case "cluster":
					c := redistest.StartCluster(b)
					srv := availabilityServer(b, c.URL(), nil)
					if _, err := c.MasterOf(lookupTag).Do(context.Background(), "WAIT", 1, 5000); err != nil {
						b.Fatal(err)
					}
					var dead *redistest.Node
					run = trafficThroughFailover(b, srv, 4, 8*time.Second,
						func() { dead = c.KillMaster(lookupTag) },
						func() time.Time { _, at := c.WaitPromoted(dead, 30*time.Second); return at })
				case "sentinel":
					s := redistest.StartSentinel(b)
					srv := availabilityServer(b, s.URL(), nil)
					if _, err := s.Master().Do(context.Background(), "WAIT", 1, 5000); err != nil {
						b.Fatal(err)
					}
					var dead *redistest.Node
					run = trafficThroughFailover(b, srv, 4, 8*time.Second,
						func() { dead = s.KillMaster() },
						func() time.Time { _, at := s.WaitFailover(dead, 30*time.Second); return at })
				}
				b.Log(run)
				total.requests += run.requests
				total.failed += run.failed
				total.failedLate += run.failedLate
				total.lastFail = max(total.lastFail, run.lastFail)
				total.promotion = max(total.promotion, run.promotion)
			}
			b.ReportMetric(float64(total.failedLate), "failed_later_than_5s")
			b.ReportMetric(float64(total.lastFail.Milliseconds()), "ms_last_failure_after_promotion")
			b.ReportMetric(float64(total.promotion.Milliseconds()), "ms_kill_to_promotion")
			b.ReportMetric(float64(total.failed)/float64(max(total.requests, 1)), "failed/request")
		})
	}
}

// Redis frozen (SIGSTOP: connections stay open, nothing answers): /readyz answers within its
// 2 s budget, and the SMS and Telegram webhooks within a few seconds — FAQ and greeting from
// memory, status "temporarily unavailable" — instead of waiting for go-redis's 3 s reads
// retried three times; normal again once Redis runs.
func TestE2ERedisFrozen(t *testing.T) {
	t.Parallel() // it mostly waits for Redis: alongside the other parallel tests
	node := redistest.StartServer(t)
	api := bottest.New(t, e2eTGToken)
	const secret = "e2e_Webhook-secret_0123456789"
	srv := availabilityServer(t, "redis://"+node.Addr, nil, map[string]string{
		"TELEGRAM_TOKEN": e2eTGToken, "TELEGRAM_API_URL": api.URL,
		"TELEGRAM_WEBHOOK_URL": "https://example.org/telegram/webhook", "TELEGRAM_WEBHOOK_SECRET": secret,
	})
	telegram := func(u map[string]any) (int, time.Duration) {
		body, _ := json.Marshal(u)
		req := httptest.NewRequest("POST", "/telegram/webhook", bytes.NewReader(body))
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
		rec := httptest.NewRecorder()
		start := time.Now()
		srv.mux.ServeHTTP(rec, req)
		return rec.Code, time.Since(start)
	}
	timed := func(from, text string) (int, string, time.Duration) {
		start := time.Now()
		code, body := postTwilio(t, srv, from, text)
		return code, body, time.Since(start)
	}
	if _, body, _ := timed("+84900000501", statusSMS); !isStatus(body) {
		t.Fatalf("status before the freeze: %s", body)
	}
	if err := node.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Continue() })
	const smsBound, tgBound = 4 * time.Second, 5 * time.Second
	code, body, first := timed("+84900000502", statusSMS)
	if code != 200 || !isUnavailable(body) || first > smsBound {
		t.Errorf("SMS status on a frozen Redis: %d in %v: %s", code, first, body)
	}
	c, ready := readyz(srv)
	if c != http.StatusServiceUnavailable || ready > readyBudget+250*time.Millisecond {
		t.Errorf("/readyz on a frozen Redis: %d in %v (budget %v)", c, ready, readyBudget)
	}
	code, body, took := timed("+84900000503", faqSMS)
	if code != 200 || !isFAQ(body) || took > smsBound {
		t.Errorf("SMS FAQ on a frozen Redis: %d in %v: %s", code, took, body)
	}
	const chat = int64(720501)
	c, tg := telegram(tgText(chat, "/start"))
	if c != 200 || tg > tgBound {
		t.Errorf("Telegram webhook on a frozen Redis: %d in %v", c, tg)
	}
	if got := texts(sent(api, chat)); !strings.Contains(got, "Xin chào") {
		t.Errorf("Telegram /start on a frozen Redis: %q", got)
	}
	t.Logf("frozen Redis: first SMS (status) %v, /readyz %v, SMS FAQ %v, Telegram /start %v", first, ready, took, tg)
	if err := node.Continue(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "status answered again after Redis thawed", func() bool {
		_, body := postTwilio(t, srv, "+84900000504", statusSMS)
		return isStatus(body)
	})
}

// BenchmarkSMSWebhookFAQ is one FAQ over the Twilio webhook through the real server on a real
// Redis, in-process (for profiling; bench/smswebhook measures `gateway serve` over HTTP).
func BenchmarkSMSWebhookFAQ(b *testing.B) {
	addr, real := redistest.Addr(b)
	if !real {
		b.Skip("needs redis-server")
	}
	srv := availabilityServer(b, "redis://"+addr+"/4090", nil)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if code, _ := postTwilio(b, srv, "+84911112222", faqSMS); code != 200 {
				b.Fatal(code)
			}
		}
	})
}

// BenchmarkSMSWebhookHTTP is BenchmarkSMSWebhookFAQ over a real HTTP server and client, with
// a bare handler doing one GET as the baseline (for profiling; bench/smswebhook measures the
// gateway binary).
func BenchmarkSMSWebhookHTTP(b *testing.B) {
	addr, real := redistest.Addr(b)
	if !real {
		b.Skip("needs redis-server")
	}
	srv := availabilityServer(b, "redis://"+addr+"/4089", nil)
	rdb := redis.NewClient(&redis.Options{Addr: addr, DB: 4089})
	defer rdb.Close()
	rdb.Set(context.Background(), "bench:faq", "Ho so can: to khai, CCCD.", 0)
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		v, _ := rdb.Get(r.Context(), "bench:faq").Result()
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Response><Message>%s</Message></Response>`, v)
	})
	for _, c := range []struct {
		name string
		h    http.Handler
	}{{"gateway", srv.mux}, {"bare", bare}} {
		b.Run(c.name, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			hs := &http.Server{Handler: c.h}
			go hs.Serve(ln)
			defer hs.Close()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			u := "http://" + ln.Addr().String() + "/sms/twilio"
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					n := smsSeq.Add(1)
					form := twilioInbound(fmt.Sprintf("SM%032d", n), fmt.Sprintf("+8491%07d", n%5000), faqSMS)
					req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					req.Header.Set("X-Twilio-Signature", smstest.Sign(e2eTwilioToken, e2eBaseURL+"/sms/twilio", form))
					resp, err := client.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		})
	}
}

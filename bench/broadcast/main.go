// Command broadcast measures a broadcast to N subscribers through the real Telegram (bot/) and
// SMS (sms/) senders against fake Telegram and Twilio servers that enforce the providers' limits:
// at most MPS requests in any sliding second overall (plus 1 per chat per second on Telegram),
// answering 429 with retry_after beyond it. It prints the sustained rate per channel against
// the configured limit, the 429s provoked, and the peak RSS of the process.
//
// With -kill it runs the senders in a child process, kills it with SIGKILL half-way, starts a
// new one, and checks that every recipient got the broadcast and that only the messages in
// flight at the kill arrived twice (or were given up as "in doubt" by the SMS sender).
//
//	go run ./bench/broadcast -n 100000
//	go run ./bench/broadcast -n 20000 -kill
//
// Redis: REDIS_URL, or a redis-server started on a free port (it must be on PATH).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/audience"
	"github.com/socialaid-vn/gateway/bot"
	"github.com/socialaid-vn/gateway/broadcast"
	"github.com/socialaid-vn/gateway/data"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/sms"
	"github.com/socialaid-vn/gateway/sms/twilio"
)

var (
	n        = flag.Int("n", 100000, "recipients")
	tgMPS    = flag.Int("tg-mps", 1500, "configured Telegram messages per second (fake server enforces it)")
	smsMPS   = flag.Int("sms-mps", 500, "configured SMS per second (fake server enforces it)")
	smsShare = flag.Float64("sms-share", 0.25, "share of recipients on SMS")
	workers  = flag.Int("workers", 64, "broadcast workers per channel")
	kill     = flag.Bool("kill", false, "run the kill -9 and resume scenario")
	separate = flag.Bool("separate", false, "run the sending service in a child process and print its own peak RSS")
	child    = flag.Bool("child", false, "internal: run the sending service only")
)

const (
	token      = "123456:bench"
	accountSID = "ACbench"
)

func main() {
	flag.Parse()
	if *child {
		runChild()
		return
	}
	redisURL, stop := startRedis()
	defer stop()
	opts, err := redis.ParseURL(redisURL)
	check(err)
	rdb := redis.NewClient(opts)
	ctx := context.Background()
	check(rdb.FlushDB(ctx).Err())

	tg := newFake(*tgMPS, true)
	tw := newFake(*smsMPS, false)
	tgSrv := httptest.NewServer(tg)
	twSrv := httptest.NewServer(tw)
	defer tgSrv.Close()
	defer twSrv.Close()

	aud := audience.New(rdb)
	seed(ctx, aud)

	env := map[string]string{"BENCH_REDIS": redisURL, "BENCH_TG": tgSrv.URL, "BENCH_SMS": twSrv.URL}
	for k, v := range env {
		os.Setenv(k, v)
	}
	svc := newService(rdb, aud)
	pv, err := svc.Create(ctx, broadcast.Request{Text: map[string]string{
		"vi": "Tiền trợ cấp tháng 12 của xã Vũ Phúc sẽ chi trả ngày 10/12 tại nhà văn hóa thôn",
		"en": "The December allowance of Vu Phuc is paid on 10/12 at the village hall"}})
	check(err)
	fmt.Printf("broadcast %s: %d recipients (telegram %d, sms %d), %d SMS segments\n",
		pv.ID, pv.Recipients, pv.PerChannel[gateway.Telegram], pv.PerChannel[gateway.SMS], pv.SMSSegments)

	start := time.Now()
	var kills int
	var resent int
	if *kill {
		kills = runKillScenario(ctx, svc, pv.ID, tg, tw)
	} else if *separate {
		c := exec.Command(os.Args[0], append(os.Args[1:], "-child")...)
		c.Stderr = os.Stderr
		check(c.Start())
		waitDone(ctx, svc, pv.ID)
		check(c.Process.Signal(syscall.SIGTERM))
		_ = c.Wait()
	} else {
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); svc.Run(rctx) }() //nolint:errcheck
		waitDone(ctx, svc, pv.ID)
		cancel()
		<-done
	}
	elapsed := time.Since(start)
	rep, err := svc.Report(ctx, pv.ID)
	check(err)
	resent = rep.Resent
	fmt.Printf("done in %s: sent %d, failed %v, skipped %v, resent after kill %d\n", elapsed.Round(time.Millisecond), rep.Sent, rep.Failed, rep.Skipped, resent)
	for _, f := range []struct {
		name string
		fake *fake
		mps  int
	}{{"telegram", tg, *tgMPS}, {"sms", tw, *smsMPS}} {
		r := f.fake.steadyRate()
		fmt.Printf("%-8s delivered %6d  steady rate %7.1f/s = %5.1f%% of %d/s  429s %d\n",
			f.name, f.fake.delivered.Load(), r, 100*r/float64(f.mps), f.mps, f.fake.rejected.Load())
	}
	if *kill {
		missing, twice := 0, 0
		for _, f := range []*fake{tg, tw} {
			m, t := f.dupes()
			twice += t
			missing += m
		}
		total := int(tg.recipients.Load() + tw.recipients.Load())
		missing += pv.Recipients - total
		fmt.Printf("kill -9 x%d: recipients reached %d/%d, missing %d, delivered twice %d, counted resent %d, given up in doubt %d\n",
			kills, total, pv.Recipients, missing, twice, resent, rep.Failed["in_doubt"])
	}
	fmt.Printf("peak RSS (parent: fakes + service): %s\n", peakRSS())
}

func seed(ctx context.Context, aud *audience.Store) {
	communes := []string{"Vũ Phúc", "Trần Lãm", "Hưng Hà"}
	nSMS := int(float64(*n) * *smsShare)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range *n {
		sub := audience.Subscriber{Channel: gateway.Telegram, ID: strconv.Itoa(100000 + i), Commune: communes[i%3], Lang: []string{"vi", "vi", "en"}[i%3]}
		if i < nSMS {
			sub = audience.Subscriber{Channel: gateway.SMS, ID: fmt.Sprintf("+8491%07d", i), Commune: communes[i%3], Lang: "vi"}
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			check(aud.Subscribe(ctx, sub))
		}()
	}
	wg.Wait()
}

type nopCore struct{}

func (nopCore) Handle(context.Context, gateway.Inbound) ([]gateway.Reply, error) { return nil, nil }

// newService builds the real senders pointed at the fakes, and the broadcast service.
func newService(rdb redis.UniversalClient, aud *audience.Store) *broadcast.Service {
	cat, err := i18n.LoadCatalog(data.Embedded())
	check(err)
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	b, err := bot.New(bot.Config{Token: token, APIURL: os.Getenv("BENCH_TG"), MPS: *tgMPS}, rdb, nopCore{}, aud, cat, logger)
	check(err)
	tw, err := twilio.New(twilio.Config{AccountSID: accountSID, AuthToken: "secret", From: "+84900000000", APIURL: os.Getenv("BENCH_SMS"),
		PublicBaseURL: "https://gw.example.gov.vn"})
	check(err)
	s, err := sms.New(sms.Config{Outbound: tw, MPS: *smsMPS, Catalog: cat}, rdb, nopCore{}, aud, nil, logger)
	check(err)
	return broadcast.New(rdb, aud, map[gateway.Channel]gateway.Sender{gateway.Telegram: b, gateway.SMS: s}, cat,
		broadcast.Config{Communes: []string{"Vũ Phúc", "Trần Lãm", "Hưng Hà"}, Workers: *workers, SMSMaxSegments: 2,
			ClaimIdle: 2 * time.Second, Heartbeat: 2 * time.Second, Poll: 200 * time.Millisecond}, logger)
}

func runChild() {
	opts, err := redis.ParseURL(os.Getenv("BENCH_REDIS"))
	check(err)
	rdb := redis.NewClient(opts)
	svc := newService(rdb, audience.New(rdb))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := svc.Run(ctx); err != nil && ctx.Err() == nil {
		check(err)
	}
	fmt.Fprintf(os.Stderr, "peak RSS (sending service alone, child process): %s\n", peakRSS())
}

// runKillScenario sends from a child process, kills it with SIGKILL half-way, and resumes with a
// new child. It returns the number of kills.
func runKillScenario(ctx context.Context, svc *broadcast.Service, id string, tg, tw *fake) int {
	startChild := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], append(os.Args[1:], "-child")...)
		cmd.Stderr = os.Stderr
		check(cmd.Start())
		return cmd
	}
	c := startChild()
	for tg.delivered.Load()+tw.delivered.Load() < int64(*n/2) {
		time.Sleep(5 * time.Millisecond)
	}
	check(c.Process.Signal(syscall.SIGKILL))
	_ = c.Wait()
	fmt.Printf("killed the sender (SIGKILL) after %d deliveries\n", tg.delivered.Load()+tw.delivered.Load())
	c = startChild()
	waitDone(ctx, svc, id)
	check(c.Process.Signal(syscall.SIGTERM))
	_ = c.Wait()
	return 1
}

func waitDone(ctx context.Context, svc *broadcast.Service, id string) {
	last := time.Now()
	for {
		rep, err := svc.Report(ctx, id)
		check(err)
		if rep.Status == broadcast.StatusDone {
			return
		}
		if time.Since(last) > 5*time.Second {
			last = time.Now()
			fmt.Printf("  %s: sent %d / %d, pending %d\n", id, rep.Sent, rep.Total, rep.Pending)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fake is a provider API that enforces a rate limit the way Telegram and Twilio do.
type fake struct {
	telegram   bool
	mps        int
	mu         sync.Mutex
	window     []time.Time // accepted requests in the last second
	perChat    map[string]time.Time
	got        map[string]int
	stamps     []time.Time
	delivered  atomic.Int64
	rejected   atomic.Int64
	recipients atomic.Int64
}

func newFake(mps int, telegram bool) *fake {
	return &fake{telegram: telegram, mps: mps, perChat: map[string]time.Time{}, got: map[string]int{}}
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	to := r.PostForm.Get("chat_id")
	if !f.telegram {
		to = r.PostForm.Get("To")
	}
	if f.telegram && !strings.HasSuffix(r.URL.Path, "/sendMessage") {
		w.Write([]byte(`{"ok":true,"result":true}`))
		return
	}
	now := time.Now()
	f.mu.Lock()
	cut := 0
	for cut < len(f.window) && now.Sub(f.window[cut]) >= time.Second {
		cut++
	}
	f.window = f.window[cut:]
	over := len(f.window) >= f.mps
	if f.telegram && !over {
		if last, ok := f.perChat[to]; ok && now.Sub(last) < time.Second {
			over = true
		}
	}
	if over {
		f.mu.Unlock()
		f.rejected.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		if f.telegram {
			w.Write([]byte(`{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 1","parameters":{"retry_after":1}}`))
		} else {
			w.Write([]byte(`{"code":20429,"message":"Too Many Requests","more_info":"","status":429}`))
		}
		return
	}
	f.window = append(f.window, now)
	if f.telegram {
		f.perChat[to] = now
	}
	f.got[to]++
	if f.got[to] == 1 {
		f.recipients.Add(1)
	}
	f.stamps = append(f.stamps, now)
	f.mu.Unlock()
	f.delivered.Add(1)
	w.Header().Set("Content-Type", "application/json")
	if f.telegram {
		chat, _ := strconv.ParseInt(to, 10, 64)
		json.NewEncoder(w).Encode(map[string]any{"ok": true, "result": map[string]any{"message_id": 1, "date": now.Unix(), "chat": map[string]any{"id": chat, "type": "private"}, "text": "ok"}})
		return
	}
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]any{"sid": fmt.Sprintf("SM%032d", f.delivered.Load()), "status": "queued", "to": to})
}

// steadyRate is the delivery rate between the 5th and the 95th percentile of deliveries (the
// ramp-up and the tail of the last few workers left out).
func (f *fake) steadyRate() float64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := len(f.stamps)
	if k < 20 {
		return 0
	}
	a, b := k/20, k-k/20-1
	d := f.stamps[b].Sub(f.stamps[a]).Seconds()
	if d <= 0 {
		return 0
	}
	return float64(b-a) / d
}

func (f *fake) dupes() (missing, twice int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.got {
		if c > 1 {
			twice += c - 1
		}
	}
	return 0, twice
}

func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:"))
		}
	}
	return "unknown"
}

func startRedis() (string, func()) {
	if u := os.Getenv("REDIS_URL"); u != "" {
		return u, func() {}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	check(cmd.Start())
	url := fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	opts, _ := redis.ParseURL(url)
	c := redis.NewClient(opts)
	for range 100 {
		if c.Ping(context.Background()).Err() == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.Close()
	return url, func() { cmd.Process.Kill(); cmd.Wait() }
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

// Command smswebhook measures the SMS webhook of `gateway serve` against a bare Go handler that
// does one Redis GET per request, on the same redis-server, at the same concurrency, in
// alternating rounds (the machine is shared and noisy): requests per second and p99 of each, and
// their ratio. The gateway gets signed Twilio webhooks of an FAQ keyword ("HS NKT": documents
// for people with disabilities, answered inline as TwiML), each with a new MessageSid, from many
// senders.
//
//	go run ./bench/smswebhook                     # 4 rounds of 5 s each side, 16 clients
//	go run ./bench/smswebhook -c 32 -d 10s -rounds 3
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway/sms/smstest"
)

var (
	clients = flag.Int("c", 16, "concurrent clients")
	dur     = flag.Duration("d", 5*time.Second, "length of one round")
	rounds  = flag.Int("rounds", 4, "rounds of each side, alternating")
	text    = flag.String("text", "HS NKT", "the SMS sent to the gateway")
	show    = flag.Bool("show", false, "print the Redis commands of one gateway request")
)

const (
	sid     = "ACbench00000000000000000000000000"
	token   = "bench0123456789abcdef0123456789ab"
	baseURL = "https://gw.example.org"
)

func main() {
	flag.Parse()
	redisAddr, stopRedis := startRedis()
	defer stopRedis()

	// The gateway binary, as `gateway serve` runs in production.
	dir, err := os.MkdirTemp("", "smswebhook")
	check(err)
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "gateway")
	build := exec.Command("go", "build", "-o", bin, "./cmd/gateway")
	build.Stderr = os.Stderr
	check(build.Run())
	gwAddr := freeAddr()
	gw := exec.Command(bin, "serve")
	gw.Env = append(os.Environ(), "REDIS_URL=redis://"+redisAddr+"/0", "LOOKUP_HASH_KEY="+strings.Repeat("k", 32),
		"HTTP_ADDR="+gwAddr, "LOG_LEVEL=error", "TWILIO_ACCOUNT_SID="+sid, "TWILIO_AUTH_TOKEN="+token,
		"TWILIO_FROM=+84900000001", "TWILIO_API_URL=http://127.0.0.1:1", "PUBLIC_BASE_URL="+baseURL)
	gw.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	gw.Stderr = os.Stderr
	check(gw.Start())
	defer func() { gw.Process.Signal(syscall.SIGTERM); gw.Wait() }()
	waitHTTP("http://" + gwAddr + "/readyz")

	// The bare handler: one GET per request, on the same server, with go-redis's defaults.
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr, PoolSize: 64})
	check(rdb.Set(context.Background(), "bench:faq", "Ho so can: to khai, CCCD, giay xac nhan khuyet tat.", 0).Err())
	bareAddr := freeAddr()
	bare := &http.Server{Addr: bareAddr, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		v, err := rdb.Get(r.Context(), "bench:faq").Result()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Response><Message>%s</Message></Response>`, v)
	})}
	ln, err := net.Listen("tcp", bareAddr)
	check(err)
	go bare.Serve(ln)
	defer bare.Close()

	var seq atomic.Int64
	gwReq := func() (*http.Request, error) {
		n := seq.Add(1)
		form := smstest.InboundForm(sid, fmt.Sprintf("SM%032d", n), fmt.Sprintf("+8491%07d", n%5000), *text)
		return signed("http://"+gwAddr+"/sms/twilio", form), nil
	}
	bareReq := func() (*http.Request, error) {
		n := seq.Add(1)
		form := smstest.InboundForm(sid, fmt.Sprintf("SM%032d", n), fmt.Sprintf("+8491%07d", n%5000), *text)
		return signed("http://"+bareAddr+"/sms/twilio", form), nil
	}
	// Check the gateway answers the FAQ (not a busy or error text).
	if body := once(gwReq); !strings.Contains(body, "<Message>") || strings.Contains(body, "dang ban") {
		log.Fatalf("the gateway's answer is not an FAQ answer: %s", body)
	}
	run(gwReq, time.Second) // warm-up of both
	run(bareReq, time.Second)

	var gwAll, bareAll []time.Duration
	var gwN, bareN int
	var gwT, bareT time.Duration
	for r := range *rounds {
		n, lat, t := run(gwReq, *dur)
		gwN, gwT, gwAll = gwN+n, gwT+t, append(gwAll, lat...)
		m, blat, bt := run(bareReq, *dur)
		bareN, bareT, bareAll = bareN+m, bareT+bt, append(bareAll, blat...)
		fmt.Printf("round %d: gateway %7.0f req/s p99 %6.2f ms | bare GET %7.0f req/s p99 %6.2f ms | ratio %.2f\n", r+1,
			float64(n)/t.Seconds(), ms(p99(lat)), float64(m)/bt.Seconds(), ms(p99(blat)), (float64(n)/t.Seconds())/(float64(m)/bt.Seconds()))
	}
	g, b := float64(gwN)/gwT.Seconds(), float64(bareN)/bareT.Seconds()
	fmt.Printf("SMS webhook, %d clients: gateway serve %.0f req/s (p99 %.2f ms), bare handler with one GET %.0f req/s (p99 %.2f ms): throughput ratio %.2f (target >= 0.5), p99 ratio %.2f\n",
		*clients, g, ms(p99(gwAll)), b, ms(p99(bareAll)), g/b, ms(p99(gwAll))/ms(p99(bareAll)))
	check(redisRoundTrips(redisAddr, gwReq))
	if *show {
		showCommands(redisAddr, gwReq)
	}
}

// showCommands prints the commands Redis receives for one gateway request (MONITOR).
func showCommands(addr string, mk func() (*http.Request, error)) {
	mon := exec.Command("redis-cli", "-h", "127.0.0.1", "-p", addr[strings.LastIndexByte(addr, ':')+1:], "monitor")
	out, err := mon.StdoutPipe()
	check(err)
	check(mon.Start())
	time.Sleep(300 * time.Millisecond) // MONITOR attaches
	once(mk)
	time.Sleep(300 * time.Millisecond) // the last commands are printed
	mon.Process.Kill()
	b, _ := io.ReadAll(out)
	mon.Wait()
	fmt.Printf("commands of one request:\n%s", b)
}

// redisRoundTrips counts the commands Redis executed for one gateway request (INFO commandstats
// before and after; a pipeline counts each of its commands).
func redisRoundTrips(addr string, mk func() (*http.Request, error)) error {
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	ctx := context.Background()
	calls := func() (int, error) {
		s, err := c.Info(ctx, "stats").Result()
		if err != nil {
			return 0, err
		}
		for _, line := range strings.Split(s, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "total_commands_processed:"); ok {
				return strconv.Atoi(v)
			}
		}
		return 0, fmt.Errorf("no total_commands_processed")
	}
	before, err := calls()
	if err != nil {
		return err
	}
	const k = 50
	for range k {
		once(mk)
	}
	after, err := calls()
	if err != nil {
		return err
	}
	fmt.Printf("Redis commands per gateway request: %.1f (INFO total_commands_processed over %d requests, less this count's own INFO)\n",
		float64(after-before-1)/k, k)
	return nil
}

var client = &http.Client{Transport: &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512}, Timeout: 30 * time.Second}

func signed(u string, form url.Values) *http.Request {
	sig := smstest.Sign(token, baseURL+"/sms/twilio", form)
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", sig)
	return req
}

func once(mk func() (*http.Request, error)) string {
	req, _ := mk()
	resp, err := client.Do(req)
	check(err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		log.Fatalf("%s: %d %s", req.URL, resp.StatusCode, b)
	}
	return string(b)
}

// run sends requests from *clients goroutines for d and returns how many succeeded, their
// latencies and the time taken.
func run(mk func() (*http.Request, error), d time.Duration) (int, []time.Duration, time.Duration) {
	var (
		mu   sync.Mutex
		lats []time.Duration
		wg   sync.WaitGroup
		fail atomic.Int64
	)
	start := time.Now()
	end := start.Add(d)
	for range *clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(end) {
				req, _ := mk()
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					fail.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					fail.Add(1)
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if f := fail.Load(); f > 0 {
		log.Printf("%d requests failed", f)
	}
	return len(lats), lats, time.Since(start)
}

func p99(l []time.Duration) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	return s[len(s)*99/100]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	defer l.Close()
	return l.Addr().String()
}

func waitHTTP(u string) {
	for range 200 {
		if resp, err := http.Get(u); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond) // waiting for the server to listen, bounded
	}
	log.Fatalf("%s never ready", u)
}

func startRedis() (string, func()) {
	addr := freeAddr()
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	check(cmd.Start())
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	for range 100 {
		if c.Ping(context.Background()).Err() == nil {
			break
		}
		time.Sleep(50 * time.Millisecond) // waiting for redis-server to listen, bounded
	}
	return addr, func() { cmd.Process.Kill(); cmd.Wait() }
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

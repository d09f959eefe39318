package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/config"
	"github.com/socialaid-vn/gateway/internal/logtest"
)

func TestServeWithNoConfiguration(t *testing.T) {
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := newServer(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	base := "http://" + ln.Addr().String()

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || !strings.Contains(body, "ok") {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body := get("/readyz"); code != 200 || !strings.Contains(body, "ok") {
		t.Errorf("/readyz = %d %q", code, body)
	}
	// A message through the core shows up in the metrics.
	if _, err := srv.engine.Handle(ctx, inboundText("xin chao")); err != nil {
		t.Fatal(err)
	}
	code, body := get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics = %d", code)
	}
	for _, m := range []string{"gateway_messages_in_total", "gateway_messages_out_total", "gateway_reply_seconds_bucket", `intent="greeting"`} {
		if !strings.Contains(body, m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
	// Without ADMIN_TOKEN the staff API takes console sessions only.
	if code, _ := get("/api/broadcasts/x"); code != http.StatusUnauthorized {
		t.Errorf("staff API without a session or ADMIN_TOKEN: %d, want 401", code)
	}
	// The web chat and the console are there with no configuration.
	if code, body := get("/"); code != 200 || !strings.Contains(body, "webchat.js") {
		t.Errorf("/ = %d", code)
	}
	if code, body := get("/console/login"); code != 200 || !strings.Contains(body, `name="password"`) {
		t.Errorf("/console/login = %d", code)
	}

	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop within 10 s of the signal")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("shutdown took %v", d)
	}
}

func inboundText(text string) gateway.Inbound {
	return gateway.Inbound{Channel: gateway.Terminal, SenderID: "serve-test", Text: text}
}

// On a Redis server without persistence, the gateway warns at start-up and /readyz says so
// (the embedded demo says nothing of it).
func TestReadyzWarnsWhenRedisPersistenceIsOff(t *testing.T) {
	vars := importEnv(t, 4091) // the test redis-server runs with --save "" --appendonly no
	cfg, err := config.Load(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	var logs logtest.Buffer
	srv, err := newServer(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "persistence is off") {
		t.Errorf("no start-up warning:\n%s", logs.String())
	}
	rec := httptest.NewRecorder()
	srv.mux.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "persistence: no aof, no snapshots") || !strings.Contains(rec.Body.String(), "warning: Redis persistence is off") {
		t.Errorf("/readyz %d:\n%s", rec.Code, rec.Body.String())
	}
	// The embedded demo: no persistence line.
	demo, err := newServer(context.Background(), config.Config{DefaultLang: "vi", StateTTL: time.Minute}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer demo.Close()
	rec = httptest.NewRecorder()
	demo.mux.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if strings.Contains(rec.Body.String(), "persistence") {
		t.Errorf("embedded /readyz: %s", rec.Body.String())
	}
}

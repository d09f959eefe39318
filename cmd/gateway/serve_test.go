package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/config"
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

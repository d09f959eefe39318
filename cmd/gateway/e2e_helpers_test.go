package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/socialaid-vn/gateway/config"
)

// Helpers shared by the end-to-end tests (e2e_telegram_test.go, e2e_sms_test.go): they build the
// real server from a configuration, as `gateway serve` does, with the embedded Redis and its demo
// data (REDIS_URL unset), and point the channels at local fakes.

// eventually polls cond every few milliseconds until it holds or timeout passes, then fails the
// test with what. It replaces fixed sleeps: the wait is as short as the outcome allows.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

// newE2EServer builds the real server from vars (a map-based environment) and closes it when the
// test ends.
func newE2EServer(t *testing.T, vars map[string]string) *server {
	t.Helper()
	cfg, err := config.Load(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatalf("config.Load: %v", err)
	}
	if cfg.RedisURL != "" {
		t.Fatalf("the end-to-end tests need the embedded Redis (REDIS_URL unset)")
	}
	srv, err := newServer(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("newServer: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// serveE2E runs srv.Serve on a free local port until the test ends, and returns its base URL.
// The cleanup stops it and checks that it returned in time and without error.
func serveE2E(t *testing.T, srv *server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				t.Errorf("Serve returned %v", err)
			}
		case <-time.After(shutdownGrace + 2*time.Second):
			t.Errorf("Serve did not return within %v of the cancel", shutdownGrace+2*time.Second)
		}
	})
	return "http://" + ln.Addr().String()
}

package zalo

import (
	"context"
	"strings"
	"testing"
)

// The tokens in Redis are sealed: neither the access nor the refresh token can be read from a
// dump of the store, and the gateway still uses them.
func TestStoredTokensAreSealed(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	access, err := h.ch.tok.Access(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := h.rdb.HGetAll(ctx, keyTokens).Result()
	if err != nil {
		t.Fatal(err)
	}
	ts, err := h.ch.tok.read(ctx)
	if err != nil || ts.Access != access || ts.Refresh == "" {
		t.Fatalf("read back: %+v %v", ts, err)
	}
	for k, v := range stored {
		if strings.Contains(v, access) || strings.Contains(v, ts.Refresh) {
			t.Errorf("%s holds a token in clear: %q", k, v)
		}
	}
	if !strings.HasPrefix(stored["access"], sealPrefix) || !strings.HasPrefix(stored["refresh"], sealPrefix) {
		t.Errorf("not sealed: %v", stored)
	}
}

func TestSealer(t *testing.T) {
	a, _ := newSealer("secret-a")
	b, _ := newSealer("secret-b")
	sealed := a.seal("tok-123")
	if sealed == a.seal("tok-123") {
		t.Error("two seals of one value are equal (nonce reused)")
	}
	if got, err := a.open(sealed); err != nil || got != "tok-123" {
		t.Errorf("open: %q %v", got, err)
	}
	if _, err := b.open(sealed); err == nil {
		t.Error("another secret opened it")
	}
	if _, err := a.open(sealPrefix + "!!"); err == nil {
		t.Error("garbage opened")
	}
	// Written before sealing: read as it is (sealed at the next write).
	if got, err := a.open("plain-old-token"); err != nil || got != "plain-old-token" {
		t.Errorf("legacy value: %q %v", got, err)
	}
	if a.seal("") != "" {
		t.Error("no token sealed into something")
	}
}

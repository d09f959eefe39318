package spool

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestSpoolBoundedAndReplayedInOrder(t *testing.T) {
	s := New(3, 10)
	if !s.Add("a", []byte("1234")) || !s.Add("b", []byte("1234")) {
		t.Fatal("refused below the bounds")
	}
	if s.Add("c", []byte("123")) {
		t.Fatal("over the byte bound accepted")
	}
	if !s.Add("c", []byte("12")) || s.Add("d", nil) {
		t.Fatal("count bound")
	}
	var mu sync.Mutex
	var got []string
	down := true
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Replay(ctx, time.Hour, func(_ context.Context, it Item) error {
			mu.Lock()
			defer mu.Unlock()
			if down {
				return errors.New("redis unavailable")
			}
			got = append(got, it.Key)
			return nil
		})
	}()
	s.Wake()
	deadline := time.Now().Add(5 * time.Second)
	if s.Len() != 3 {
		t.Fatal("a failed round must keep everything")
	}
	mu.Lock()
	down = false
	mu.Unlock()
	for s.Len() > 0 {
		s.Wake()
		if time.Now().After(deadline) {
			t.Fatal("not replayed")
		}
		time.Sleep(5 * time.Millisecond) // polling the spool with a deadline
	}
	cancel()
	<-done
	if len(got) != 3 || got[0] != "a" || got[1] != "b" || got[2] != "c" {
		t.Fatalf("replayed %v", got)
	}
	if !s.Add("e", []byte("1234567890")) {
		t.Fatal("bytes not given back after the replay")
	}
}

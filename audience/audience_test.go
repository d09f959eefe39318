package audience

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/redisconn/redistest"
)

func seed(t *testing.T, s *Store, subs ...Subscriber) {
	t.Helper()
	for _, sub := range subs {
		if err := s.Subscribe(context.Background(), sub); err != nil {
			t.Fatalf("Subscribe(%+v): %v", sub, err)
		}
	}
}

func scanIDs(t *testing.T, s *Store, f Filter) []string {
	t.Helper()
	var ids []string
	if err := s.Scan(context.Background(), f, func(b []Subscriber) error {
		for _, sub := range b {
			ids = append(ids, string(sub.Channel)+":"+sub.ID)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sort.Strings(ids)
	return ids
}

func TestFilterCountAndScanAgree(t *testing.T) {
	ctx := context.Background()
	s := New(redistest.New(t))
	seed(t, s,
		Subscriber{Channel: gateway.Telegram, ID: "101", Commune: "Vũ Phúc", Lang: "vi", Category: "elderly"},
		Subscriber{Channel: gateway.SMS, ID: "+84912000001", Commune: "Vũ Phúc", Lang: "vi"},
		Subscriber{Channel: gateway.SMS, ID: "+84912000002", Commune: "Trần Lãm", Lang: "en", Category: "disability"},
		Subscriber{Channel: gateway.Telegram, ID: "102", Commune: "Trần Lãm", Lang: "en", Category: "elderly"},
		Subscriber{Channel: gateway.Telegram, ID: "103", Lang: "vi"},
	)
	tests := []struct {
		name string
		f    Filter
		want []string
	}{
		{"everyone", Filter{}, []string{"sms:+84912000001", "sms:+84912000002", "telegram:101", "telegram:102", "telegram:103"}},
		{"commune without diacritics", Filter{Communes: []string{"vu phuc"}}, []string{"sms:+84912000001", "telegram:101"}},
		{"two communes, sms", Filter{Communes: []string{"Vũ Phúc", "Trần Lãm"}, Channels: []gateway.Channel{gateway.SMS}}, []string{"sms:+84912000001", "sms:+84912000002"}},
		{"category", Filter{Categories: []string{"elderly"}}, []string{"telegram:101", "telegram:102"}},
		{"language and category", Filter{Languages: []string{"en"}, Categories: []string{"elderly", "disability"}}, []string{"sms:+84912000002", "telegram:102"}},
		{"nobody", Filter{Communes: []string{"Hưng Hà"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := scanIDs(t, s, tt.f)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("Scan = %v, want %v", got, tt.want)
			}
			n, per, err := s.Count(ctx, tt.f)
			if err != nil || n != len(tt.want) {
				t.Fatalf("Count = %d, %v; want %d", n, err, len(tt.want))
			}
			sum := 0
			for _, v := range per {
				sum += v
			}
			if sum != n {
				t.Fatalf("per channel %v does not add up to %d", per, n)
			}
		})
	}
}

func TestStopUnsubscribeResume(t *testing.T) {
	ctx := context.Background()
	s := New(redistest.New(t))
	seed(t, s,
		Subscriber{Channel: gateway.Telegram, ID: "1", Commune: "Vũ Phúc"},
		Subscriber{Channel: gateway.SMS, ID: "+84912000009", Commune: "Vũ Phúc"},
		Subscriber{Channel: gateway.Telegram, ID: "2", Commune: "Vũ Phúc"},
	)
	f := Filter{Communes: []string{"Vũ Phúc"}}
	if err := s.Stop(ctx, gateway.Telegram, "1", ReasonBlocked); err != nil {
		t.Fatal(err)
	}
	if err := s.Unsubscribe(ctx, gateway.SMS, "+84912000009"); err != nil {
		t.Fatal(err)
	}
	if got := scanIDs(t, s, f); fmt.Sprint(got) != "[telegram:2]" {
		t.Fatalf("after stop+unsubscribe Scan = %v", got)
	}
	if n, _, _ := s.Count(ctx, f); n != 1 {
		t.Fatalf("Count = %d, want 1", n)
	}
	ex, err := s.Excluded(ctx, f)
	if err != nil || ex[ReasonBlocked] != 1 || ex[ReasonUnsubscribed] != 1 {
		t.Fatalf("Excluded = %v, %v", ex, err)
	}
	if stopped, _ := s.Stopped(ctx, gateway.Telegram, "1"); !stopped {
		t.Fatal("Stopped = false after Stop")
	}
	if sub, _ := s.Get(ctx, gateway.Telegram, "1"); sub == nil || sub.Commune != "Vũ Phúc" {
		t.Fatalf("a stopped subscription is kept, Get = %+v", sub)
	}
	if sub, _ := s.Get(ctx, gateway.SMS, "+84912000009"); sub != nil {
		t.Fatalf("Get after Unsubscribe = %+v, want nil", sub)
	}
	// Stop does not override an unsubscription; Resume does not re-subscribe.
	if err := s.Stop(ctx, gateway.SMS, "+84912000009", ReasonOptedOut); err != nil {
		t.Fatal(err)
	}
	if err := s.Resume(ctx, gateway.SMS, "+84912000009"); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Status(ctx, gateway.SMS, "+84912000009"); st != ReasonUnsubscribed {
		t.Fatalf("Status = %q, want unsubscribed", st)
	}
	// Resume brings the blocked one back; Subscribe brings the unsubscribed one back.
	if err := s.Resume(ctx, gateway.Telegram, "1"); err != nil {
		t.Fatal(err)
	}
	seed(t, s, Subscriber{Channel: gateway.SMS, ID: "+84912000009", Commune: "Vu Phuc", Lang: "en"})
	if got := scanIDs(t, s, f); len(got) != 3 {
		t.Fatalf("after resume+subscribe Scan = %v", got)
	}
	if ex, _ := s.Excluded(ctx, f); len(ex) != 0 {
		t.Fatalf("Excluded = %v, want none", ex)
	}
	// Moving commune moves the index entry.
	seed(t, s, Subscriber{Channel: gateway.Telegram, ID: "2", Commune: "Trần Lãm"})
	if n, _, _ := s.Count(ctx, f); n != 2 {
		t.Fatalf("Count after move = %d, want 2", n)
	}
}

func TestSubscribeSetCategoryKeepsSince(t *testing.T) {
	ctx := context.Background()
	s := New(redistest.New(t))
	seed(t, s, Subscriber{Channel: gateway.Telegram, ID: "7", Commune: "Hưng Hà"})
	first, _ := s.Get(ctx, gateway.Telegram, "7")
	if err := s.SetCategory(ctx, gateway.Telegram, "7", "child"); err != nil {
		t.Fatal(err)
	}
	seed(t, s, Subscriber{Channel: gateway.Telegram, ID: "7", Commune: "Hưng Hà", Category: "child"})
	got, _ := s.Get(ctx, gateway.Telegram, "7")
	if got.Category != "child" || got.Lang != "vi" || !got.Since.Equal(first.Since) {
		t.Fatalf("Get = %+v (first since %v)", got, first.Since)
	}
	if n, _, _ := s.Count(ctx, Filter{Categories: []string{"child"}}); n != 1 {
		t.Fatalf("category count = %d", n)
	}
}

func TestBadInput(t *testing.T) {
	ctx := context.Background()
	s := New(redistest.New(t))
	for _, sub := range []Subscriber{
		{Channel: "fax", ID: "1"},
		{Channel: gateway.SMS, ID: ""},
		{Channel: gateway.SMS, ID: "a b"},
		{Channel: gateway.SMS, ID: "+849", Lang: "fr"},
		{Channel: gateway.SMS, ID: "+849", Category: "rich"},
	} {
		if err := s.Subscribe(ctx, sub); !errors.Is(err, ErrInvalid) {
			t.Errorf("Subscribe(%+v) = %v, want ErrInvalid", sub, err)
		}
	}
	if err := s.Stop(ctx, "", "x", ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("Stop with no channel = %v", err)
	}
}

func TestScanLargeAudienceInBatches(t *testing.T) {
	ctx := context.Background()
	s := New(redistest.New(t))
	const n = 3000
	for i := range n {
		ch := gateway.Telegram
		if i%3 == 0 {
			ch = gateway.SMS
		}
		if err := s.Subscribe(ctx, Subscriber{Channel: ch, ID: fmt.Sprint(1000 + i), Commune: []string{"Vũ Phúc", "Hưng Hà"}[i%2]}); err != nil {
			t.Fatal(err)
		}
	}
	seen, maxBatch := map[string]bool{}, 0
	err := s.Scan(ctx, Filter{Communes: []string{"Hưng Hà"}}, func(b []Subscriber) error {
		maxBatch = max(maxBatch, len(b))
		for _, sub := range b {
			seen[string(sub.Channel)+sub.ID] = true
		}
		return nil
	})
	if err != nil || len(seen) != n/2 || maxBatch > 1000 {
		t.Fatalf("Scan saw %d (max batch %d), err %v; want %d", len(seen), maxBatch, err, n/2)
	}
	total, per, _ := s.Count(ctx, Filter{})
	if total != n || per[gateway.SMS] != n/3 {
		t.Fatalf("Count = %d %v", total, per)
	}
}

func TestMask(t *testing.T) {
	for in, want := range map[string]string{"+84912345667": "+8491*****67", "123": "***", "123456789": "12*****89"} {
		if got := Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
}

package sms

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/socialaid-vn/gateway"
)

// TestReceiveReplayed: the same message id from the same transport is answered from the first
// run; the same id from another transport is another message.
func TestReceiveReplayed(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	in := Inbound{Transport: "kannel", From: "0912345667", Text: "DK Vu Phuc", ID: "6f1c"}
	first, err := f.ch.Receive(ctx, in)
	if err != nil || !strings.Contains(first, "commune=Vu Phuc") {
		t.Fatalf("Receive = %q, %v", first, err)
	}
	again, err := f.ch.Receive(ctx, in)
	if err != nil || again != first || f.core.Count() != 1 {
		t.Errorf("replay: %q, %v, core ran %d times", again, err, f.core.Count())
	}
	in.Transport = "twilio"
	if _, err := f.ch.Receive(ctx, in); err != nil || f.core.Count() != 2 {
		t.Errorf("same id from another transport not processed: %v, core ran %d", err, f.core.Count())
	}
	if last := f.core.Last(); last.SenderID != testPhone || last.Intent != IntentSubscribe || last.MessageID != "6f1c" {
		t.Errorf("core got %+v", last)
	}
}

// TestConcurrentDuplicate: a duplicate arriving while the first is still being answered waits for
// that answer instead of running the core again.
func TestConcurrentDuplicate(t *testing.T) {
	f := newFixture(t, nil)
	f.core.Gate = make(chan struct{})
	f.core.Entered = make(chan struct{}, 2)
	in := Inbound{Transport: "kannel", From: testPhone, Text: "LICH", ID: "dup-1"}
	results := make([]string, 2)
	var wg sync.WaitGroup
	serve := func(i int) {
		defer wg.Done()
		results[i], _ = f.ch.Receive(context.Background(), in)
	}
	wg.Add(1)
	go serve(0)
	<-f.core.Entered // the first request holds the id
	wg.Add(1)
	go serve(1)
	close(f.core.Gate)
	wg.Wait()
	if f.core.Count() != 1 {
		t.Errorf("core ran %d times", f.core.Count())
	}
	if results[0] == "" || results[0] != results[1] {
		t.Errorf("results %q", results)
	}
}

// TestAnswerSendsOnce: a message answered by a new SMS (Kannel's way) is answered once however
// often it is delivered; a reply the provider refused for now is sent on the next delivery
// without the core running again.
func TestAnswerSendsOnce(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	in := Inbound{Transport: "kannel", From: "+84912345667", Text: "TT TB-2025-000123 4567", ID: "a1"}
	for i := 0; i < 3; i++ {
		if err := f.ch.Answer(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	msgs := f.tr.sent()
	if len(msgs) != 1 || f.core.Count() != 1 {
		t.Fatalf("%d SMS sent, core ran %d times, for one message delivered three times", len(msgs), f.core.Count())
	}
	want := "Da, y dinh: application_status. application_code=TB-2025-000123 id_last4=4567\nHD: Huong dan"
	if msgs[0].To != testPhone || msgs[0].Text != want || msgs[0].Encoding != GSM7 || msgs[0].Segments != 1 {
		t.Errorf("sent %+v", msgs[0])
	}
	// The answer is exactly the inline reply (Receive), not a second rendering of it.
	inline, _ := f.ch.Reply(ctx, "+84912345668", in.Text, "")
	if inline != want {
		t.Errorf("inline reply %q differs from the SMS sent %q", inline, want)
	}

	// The provider is down: Answer fails (the transport asks for a redelivery), the retry sends.
	f.tr.mu.Lock()
	f.tr.script = []error{retryable("connection"), retryable("connection"), retryable("connection")}
	f.tr.mu.Unlock()
	in2 := Inbound{Transport: "kannel", From: "+84912345667", Text: "HD", ID: "a2"}
	if err := f.ch.Answer(ctx, in2); !gateway.IsRetryable(err) {
		t.Fatalf("Answer while the provider is down: %v", err)
	}
	if err := f.ch.Answer(ctx, in2); err != nil {
		t.Fatal(err)
	}
	if f.core.Count() != 3 || f.tr.calls() != 5 { // the inline Reply above ran it once too
		t.Errorf("core ran %d times, %d submits", f.core.Count(), f.tr.calls())
	}
	// A stop mark does not hold back a reply to what the person just sent.
	f.optouts.Stop(ctx, gateway.SMS, testPhone, "opted_out")
	if err := f.ch.Answer(ctx, Inbound{Transport: "kannel", From: testPhone, Text: "HD", ID: "a3"}); err != nil || f.tr.calls() != 6 {
		t.Errorf("reply to a stopped number: %v (%d submits)", err, f.tr.calls())
	}
	if err := f.ch.Answer(ctx, Inbound{Transport: "kannel", From: testPhone, Text: "HD"}); err == nil {
		t.Error("Answer without a message id accepted")
	}
}

func TestCoreFailureForgets(t *testing.T) {
	f := newFixture(t, nil)
	f.core.SetFail(errors.New("redis down"))
	in := Inbound{Transport: "kannel", From: testPhone, Text: "HD", ID: "c1"}
	if err := f.ch.Answer(context.Background(), in); err == nil {
		t.Fatal("core failure not reported")
	}
	f.core.SetFail(nil)
	if err := f.ch.Answer(context.Background(), in); err != nil || f.tr.calls() != 1 || f.core.Count() != 2 {
		t.Errorf("retry after failure: %v, %d sent, core ran %d", err, f.tr.calls(), f.core.Count())
	}
	if got := f.ch.TemporaryError(); !strings.HasPrefix(got, "Xin loi Ong/Ba") || !IsGSM(got) {
		t.Errorf("TemporaryError %q", got)
	}
}

func TestSendRetries(t *testing.T) {
	cases := []struct {
		name   string
		script []error
		kind   gateway.SendErrorKind // 0 = sent
		reason string
		calls  int
	}{
		{"accepted", nil, 0, "", 1},
		{"retryable then accepted", []error{retryable("connection")}, 0, "", 2},
		{"retryable three times gives up", []error{retryable("a"), retryable("b"), retryable("c")}, gateway.Retryable, "c", 3},
		{"unknown is not retried", []error{&gateway.SendError{Kind: gateway.Unknown, Reason: "timeout"}}, gateway.Unknown, "timeout", 1},
		{"final is not retried", []error{&gateway.SendError{Kind: gateway.Final, Reason: "rejected"}}, gateway.Final, "rejected", 1},
		{"stopped records the opt-out", []error{&gateway.SendError{Kind: gateway.Stopped, Reason: "opted_out"}}, gateway.Stopped, "opted_out", 1},
		{"a Retry-After beyond the cap is returned, not slept",
			[]error{&gateway.SendError{Kind: gateway.Retryable, Reason: "throttled", RetryAfter: time.Minute}}, gateway.Retryable, "throttled", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.tr.script = tc.script
			id, err := f.ch.SendMessage(context.Background(), outbound("Thông báo: ngày 10/7 chi trả tại nhà văn hóa thôn ạ."))
			if f.tr.calls() != tc.calls {
				t.Errorf("%d submits, want %d", f.tr.calls(), tc.calls)
			}
			if tc.kind == 0 {
				if err != nil || id == "" {
					t.Fatalf("id %q err %v", id, err)
				}
				if d, err := f.ch.Delivery(context.Background(), id); err != nil || d.Status != "queued" {
					t.Errorf("Delivery %+v %v", d, err)
				}
				if m := f.tr.sent()[0]; m.Text != "Thong bao: ngay 10/7 chi tra tai nha van hoa thon a." || m.To != testPhone {
					t.Errorf("submitted %+v", m)
				}
				return
			}
			se := gateway.SendErrorOf(err)
			if se == nil || se.Kind != tc.kind || se.Reason != tc.reason {
				t.Fatalf("err %v, want %s %s", err, tc.kind, tc.reason)
			}
			if stopped := f.optouts.Reason(testPhone) == "opted_out"; stopped != (tc.kind == gateway.Stopped) {
				t.Errorf("opted out = %v", stopped)
			}
		})
	}
}

// TestSendKeyOnce: a key is sent once; after an unknown outcome the same key is refused as in
// doubt rather than sent again; after a definite failure it may be sent again.
func TestSendKeyOnce(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	m := outbound("Nhắc lịch chi trả")
	m.Key = "bc-1:+84912345667"
	id1, err := f.ch.SendMessage(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if id2, err := f.ch.SendMessage(ctx, m); err != nil || id2 != id1 || f.tr.calls() != 1 {
		t.Fatalf("resend of a sent key: %q/%q err %v calls %d", id1, id2, err, f.tr.calls())
	}
	if d, _ := f.ch.Delivery(ctx, id1); d.Key != m.Key {
		t.Errorf("delivery key %q", d.Key)
	}
	m.Key = "bc-2:+84912345667"
	f.tr.script = []error{&gateway.SendError{Kind: gateway.Unknown, Reason: "timeout"}}
	if err := f.ch.Send(ctx, m); gateway.SendErrorOf(err).Kind != gateway.Unknown {
		t.Fatalf("err %v", err)
	}
	if err := f.ch.Send(ctx, m); gateway.SendErrorOf(err).Reason != "in_doubt" || f.tr.calls() != 2 {
		t.Fatalf("key in doubt resent: %v (calls %d)", err, f.tr.calls())
	}
	m.Key = "bc-3:+84912345667"
	f.tr.script = []error{retryable("x"), retryable("x"), retryable("x")}
	if err := f.ch.Send(ctx, m); !gateway.IsRetryable(err) {
		t.Fatalf("err %v", err)
	}
	if _, err := f.ch.SendMessage(ctx, m); err != nil || f.tr.calls() != 6 {
		t.Fatalf("retry after definite failure: %v (calls %d)", err, f.tr.calls())
	}
}

func TestSendBadInput(t *testing.T) {
	f := newFixture(t, nil)
	cases := map[string]gateway.Outbound{
		"invalid_number": {Channel: gateway.SMS, To: "abc", Reply: gateway.Reply{Text: "x"}},
		"empty":          {Channel: gateway.SMS, To: testPhone, Reply: gateway.Reply{Text: " 🎉 "}},
		"wrong_channel":  {Channel: gateway.Telegram, To: testPhone, Reply: gateway.Reply{Text: "x"}},
	}
	for reason, m := range cases {
		err := f.ch.Send(context.Background(), m)
		if se := gateway.SendErrorOf(err); se == nil || se.Kind != gateway.Final || se.Reason != reason {
			t.Errorf("%s: %v", reason, err)
		}
	}
	f.optouts.Stop(context.Background(), gateway.SMS, testPhone, "opted_out")
	if err := f.ch.Send(context.Background(), outbound("x")); gateway.SendErrorOf(err).Kind != gateway.Stopped {
		t.Errorf("stopped number: %v", err)
	}
	if f.tr.calls() != 0 {
		t.Error("bad input reached the transport")
	}
	chat := newFixture(t, func(c *Config) { c.Outbound = nil })
	if err := chat.ch.Send(context.Background(), outbound("x")); gateway.SendErrorOf(err).Reason != "not_configured" {
		t.Errorf("no outbound transport: %v", err)
	}
}

// TestSendRateLimit: sends share the SMS_MPS budget through Redis.
func TestSendRateLimit(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MPS = 20 })
	start := time.Now()
	for i := 0; i < 5; i++ {
		if err := f.ch.Send(context.Background(), outbound("x")); err != nil {
			t.Fatal(err)
		}
	}
	// 5 sends at 20 per second: the last one cannot start before 4 intervals of 50 ms.
	if el := time.Since(start); el < 190*time.Millisecond {
		t.Errorf("5 sends at 20/s took %s", el)
	}
}

// TestRecordDelivery: reports never move a message back, and one that arrives before the send
// has recorded its key does not lose the key.
func TestRecordDelivery(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	f := newFixture(t, func(c *Config) {
		c.OnStatus = func(id, status, code string) { mu.Lock(); seen = append(seen, id+" "+status+" "+code); mu.Unlock() }
	})
	ctx := context.Background()
	for _, st := range []string{"sent", "delivered", "sent"} {
		if err := f.ch.RecordDelivery(ctx, "fake", "K1", st, ""); err != nil {
			t.Fatal(err)
		}
	}
	if d, err := f.ch.Delivery(ctx, "K1"); err != nil || d.Status != "delivered" || d.Updated.IsZero() {
		t.Errorf("Delivery = %+v, %v", d, err)
	}
	f.ch.RecordDelivery(ctx, "fake", "F0001", "delivered", "")
	m := outbound("x")
	m.Key = "k1"
	if _, err := f.ch.SendMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
	if d, _ := f.ch.Delivery(ctx, "F0001"); d.Status != "delivered" || d.Key != "k1" {
		t.Errorf("early report: %+v", d)
	}
	if _, err := f.ch.Delivery(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown id: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 4 || seen[1] != "K1 delivered " {
		t.Errorf("OnStatus calls %q", seen)
	}
}

func TestNewValidates(t *testing.T) {
	rdb := newFixture(t, nil).ch.rdb
	for want, cfg := range map[string]Config{
		"SMS_MAX_SEGMENTS": {MaxSegments: 11},
		"SMS_MPS":          {MPS: -1},
	} {
		if _, err := New(cfg, rdb, &fakeCoreNop{}, nil, nil, nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want error with %q, got %v", want, err)
		}
	}
	if _, err := New(Config{Outbound: &fakeTransport{}}, rdb, &fakeCoreNop{}, nil, nil, nil); err == nil {
		t.Error("an outbound transport without opt-out store accepted")
	}
	if _, err := New(Config{}, nil, &fakeCoreNop{}, nil, nil, nil); err == nil {
		t.Error("nil redis accepted")
	}
	if _, err := New(Config{}, rdb, &fakeCoreNop{}, nil, nil, nil); err != nil {
		t.Error(err)
	}
}

type fakeCoreNop struct{}

func (fakeCoreNop) Handle(context.Context, gateway.Inbound) ([]gateway.Reply, error) { return nil, nil }

// TestInDoubtSettledByReports: with a transport whose reports settle doubts, a keyed send that
// ended Unknown waits (Retryable "in_doubt") instead of failing; a report for it makes it sent
// without a second SMS; reports for later messages and none for it make it sent again, once.
func TestInDoubtSettledByReports(t *testing.T) {
	ctx := context.Background()
	unknown := &gateway.SendError{Kind: gateway.Unknown, Reason: "timeout"}

	t.Run("the provider had it", func(t *testing.T) {
		tr := settlingTransport{&fakeTransport{script: []error{unknown}}}
		f := newFixture(t, func(c *Config) { c.Outbound = tr })
		m := outbound("Nhắc lịch")
		m.Key = "bc-1:+84912345667"
		err := f.ch.Send(ctx, m)
		if se := gateway.SendErrorOf(err); se == nil || se.Kind != gateway.Retryable || se.Reason != "in_doubt" {
			t.Fatalf("first send: %v", err)
		}
		if err := f.ch.Send(ctx, m); gateway.SendErrorOf(err).Reason != "in_doubt" || tr.calls() != 1 {
			t.Fatalf("unsettled: %v (%d submits)", err, tr.calls())
		}
		if err := f.ch.RecordDelivery(ctx, "fake", "U0001", "sent", ""); err != nil {
			t.Fatal(err)
		}
		id, err := f.ch.SendMessage(ctx, m)
		if err != nil || id != "U0001" || tr.calls() != 1 {
			t.Errorf("settled as sent: %q %v (%d submits)", id, err, tr.calls())
		}
	})

	t.Run("the provider never had it", func(t *testing.T) {
		tr := settlingTransport{&fakeTransport{script: []error{unknown}}}
		f := newFixture(t, func(c *Config) { c.Outbound = tr })
		m := outbound("Nhắc lịch")
		m.Key = "bc-2:+84912345667"
		if err := f.ch.Send(ctx, m); !gateway.IsRetryable(err) {
			t.Fatalf("first send: %v", err)
		}
		// Later messages are confirmed by reports; the one in doubt never is.
		deadline := time.Now().Add(5 * time.Second)
		for {
			id, err := f.ch.SendMessage(ctx, outbound("Tin khác"))
			if err != nil {
				t.Fatal(err)
			}
			f.ch.RecordDelivery(ctx, "fake", id, "delivered", "")
			if _, err := f.ch.SendMessage(ctx, m); err == nil {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("never settled: %v", err)
			}
		}
		sends := 0
		for _, msg := range tr.sent() {
			if msg.Text == "Nhac lich" {
				sends++
			}
		}
		if sends != 2 {
			t.Errorf("the lost message was submitted %d times in all, want 2", sends)
		}
		n := tr.calls()
		if _, err := f.ch.SendMessage(ctx, m); err != nil || tr.calls() != n {
			t.Errorf("a settled key is sent again: %v (%d more submits)", err, tr.calls()-n)
		}
	})
}

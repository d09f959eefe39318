package sms

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/redisconn/redistest"
)

const benchText = "Nhan tin: TT <ma ho so> <4 so cuoi CCCD> de xem ho so. LICH <ten xa>: lich chi tra. " +
	"HS: giay to can nop. DK <ten xa>: nhan thong bao. HUY: ngung nhan tin. {x} [y] €"

// BenchmarkSegments measures the GSM 03.38 segment counter against counting the runes of the
// same text (the least any counter must do), and reports the ratio.
func BenchmarkSegments(b *testing.B) {
	text := strings.Repeat(benchText, 3)
	start := time.Now()
	n := 0
	for i := 0; i < b.N; i++ {
		n += utf8.RuneCountInString(text)
	}
	base := time.Since(start)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, _ := Segments(text)
		n += s
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed())/float64(base), "x-runecount")
	if n == 0 {
		b.Fatal("nothing counted")
	}
}

// BenchmarkInboundWebhook measures a signed POST /sms/twilio end to end (signature check,
// MessageSid claim and reply in Redis, keyword grammar, a stub core, rendering, TwiML) against
// the signature check alone, on the test Redis (a real redis-server when installed).
func BenchmarkInboundWebhook(b *testing.B) {
	ch := benchChannel(b)
	h := ch.InboundHandler()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		form := inboundForm(fmt.Sprintf("SMB%030d", i), "+84912345667", "TT TB-2025-000123 4567")
		req := signedPost("/sms/twilio", form)
		body := []byte(form.Encode())
		if !ch.validator.ValidateBody(testBase+req.URL.RequestURI(), body, req.Header.Get("X-Twilio-Signature")) {
			b.Fatal("signature")
		}
	}
	base := time.Since(start)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := signedPost("/sms/twilio", inboundForm(fmt.Sprintf("SMA%030d", i), "+84912345667", "TT TB-2025-000123 4567"))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("status %d", rec.Code)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed())/float64(base), "x-signature-only")
}

func benchChannel(b *testing.B) *Channel {
	b.Helper()
	rdb := redistest.New(b)
	if !redistest.Real() {
		b.Log("redis-server not installed: measuring miniredis, not a real server")
	}
	ch, err := New(Config{AccountSID: testSID, AuthToken: testToken, From: "+84900000001", PublicBaseURL: testBase},
		rdb, benchCore{}, newOptOuts(), testCommunes, nil)
	if err != nil {
		b.Fatal(err)
	}
	return ch
}

// benchCore answers at once without recording (the fake core keeps every call).
type benchCore struct{}

func (benchCore) Handle(_ context.Context, in gateway.Inbound) ([]gateway.Reply, error) {
	return []gateway.Reply{{Text: "Hồ sơ " + in.Entities[EntityApplicationCode] + " đã được duyệt ạ.", Intent: in.Intent}}, nil
}

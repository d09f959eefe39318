package twilio

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/redisconn/redistest"
	"github.com/socialaid-vn/gateway/sms"
	"github.com/socialaid-vn/gateway/sms/smstest"
)

// BenchmarkInboundWebhook measures a signed POST /sms/twilio end to end (signature check,
// MessageSid claim and reply in Redis, keyword grammar, a stub core, rendering, TwiML) against
// the signature check alone, on the test Redis (a real redis-server when installed).
func BenchmarkInboundWebhook(b *testing.B) {
	rdb := redistest.New(b)
	if !redistest.Real() {
		b.Log("redis-server not installed: measuring miniredis, not a real server")
	}
	tw, err := New(Config{AccountSID: testSID, AuthToken: testToken, From: "+84900000001", PublicBaseURL: testBase})
	if err != nil {
		b.Fatal(err)
	}
	ch, err := sms.New(sms.Config{Outbound: tw}, rdb, benchCore{}, smstest.NewOptOuts(), testCommunes, nil)
	if err != nil {
		b.Fatal(err)
	}
	h := tw.InboundHandler(ch, nil)
	start := time.Now()
	for i := 0; i < b.N; i++ {
		form := inboundForm(fmt.Sprintf("SMB%030d", i), "+84912345667", "TT TB-2025-000123 4567")
		req := signedPost("/sms/twilio", form)
		body := []byte(form.Encode())
		if !tw.validator.ValidateBody(testBase+req.URL.RequestURI(), body, req.Header.Get("X-Twilio-Signature")) {
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

// benchCore answers at once without recording (the test core keeps every call).
type benchCore struct{}

func (benchCore) Handle(_ context.Context, in gateway.Inbound) ([]gateway.Reply, error) {
	return []gateway.Reply{{Text: "Hồ sơ " + in.Entities[sms.EntityApplicationCode] + " đã được duyệt ạ.", Intent: in.Intent}}, nil
}

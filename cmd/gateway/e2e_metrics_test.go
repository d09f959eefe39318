package main

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/socialaid-vn/gateway/metrics"
)

// metricSum sums a counter (or a histogram's count) over the series whose labels include want.
func metricSum(t *testing.T, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if have[k] != v {
					continue series
				}
			}
			if h := m.GetHistogram(); h != nil {
				sum += float64(h.GetSampleCount())
			} else {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// Every inbound message and its reply latency are counted once (the core counts them, the
// channels do not), and a broadcast's sends once in messages_out. Not parallel: it reads
// process-wide metrics.
func TestE2EMetricsCountedOnce(t *testing.T) {
	vars := smsVars("http://127.0.0.1:1")
	vars["ADMIN_TOKEN"] = "tok"
	srv := newE2EServer(t, vars)
	base := serveE2E(t, srv)
	sms := map[string]string{"channel": "sms"}
	in, lat := metricSum(t, "gateway_messages_in_total", sms), metricSum(t, "gateway_reply_seconds", sms)
	if _, body := postTwilio(t, srv, "+84900000601", faqSMS); !isFAQ(body) {
		t.Fatalf("FAQ: %s", body)
	}
	if d := metricSum(t, "gateway_messages_in_total", sms) - in; d != 1 {
		t.Errorf("one SMS counted %v times in gateway_messages_in_total", d)
	}
	if d := metricSum(t, "gateway_reply_seconds", sms) - lat; d != 1 {
		t.Errorf("one SMS reply timed %v times in gateway_reply_seconds", d)
	}

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	webIn := metricSum(t, "gateway_messages_in_total", map[string]string{"channel": "web"})
	resp, err := c.Post(base+"/webchat/api/messages", "application/json", strings.NewReader(`{"text":"DK Vu Phuc"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if d := metricSum(t, "gateway_messages_in_total", map[string]string{"channel": "web"}) - webIn; d != 1 {
		t.Errorf("one web chat message counted %v times", d)
	}
	// intent=broadcast only: the demo's payment reminders may reach the new subscriber meanwhile.
	web := map[string]string{"channel": "web", "intent": "broadcast"}
	before := metricSum(t, "gateway_messages_out_total", web)
	body := apiPost(t, base+"/api/broadcasts", "tok", `{"text":{"vi":"Thông báo thử."},"audience":{"communes":["Vũ Phúc"],"channels":["web"]}}`)
	var created struct {
		ID         string `json:"id"`
		Recipients int    `json:"recipients"`
	}
	if err := json.Unmarshal([]byte(body), &created); err != nil || created.Recipients != 1 {
		t.Fatalf("broadcast: %s", body)
	}
	// The report says done after the worker counted the send.
	eventually(t, 20*time.Second, "the broadcast done", func() bool {
		req, _ := http.NewRequest("GET", base+"/api/broadcasts/"+created.ID, nil)
		req.Header.Set("Authorization", "Bearer tok")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var rep struct{ Status string }
		_ = json.NewDecoder(resp.Body).Decode(&rep)
		return rep.Status == "done"
	})
	if d := metricSum(t, "gateway_messages_out_total", web) - before; d != 1 {
		t.Errorf("one broadcast send counted %v times in gateway_messages_out_total{channel=web}", d)
	}
}

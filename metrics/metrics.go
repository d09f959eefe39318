// Package metrics declares the gateway's Prometheus metrics in one place, registered on one
// registry that `gateway serve` exposes at GET /metrics. Labels never carry personal data.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Registry holds every gateway metric plus the Go runtime and process collectors.
var Registry = prometheus.NewRegistry()

var (
	// MessagesIn counts inbound citizen messages by channel and understood intent.
	MessagesIn = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gateway_messages_in_total",
		Help: "Inbound messages by channel and intent.",
	}, []string{"channel", "intent"})
	// MessagesOut counts messages sent by channel and intent ("broadcast", "notification" and
	// "reminder" for bulk traffic).
	MessagesOut = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gateway_messages_out_total",
		Help: "Outbound messages by channel and intent (or bulk kind).",
	}, []string{"channel", "intent"})
	// ReplyLatency measures the time from an inbound message to its replies being ready.
	ReplyLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "gateway_reply_seconds",
		Help:    "Time to answer an inbound message, by channel.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"channel"})
	// SendErrors counts failed sends by channel and kind (retryable, final, stopped, unknown).
	SendErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gateway_send_errors_total",
		Help: "Failed sends by channel and error kind.",
	}, []string{"channel", "kind"})
)

func init() {
	Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	Registry.MustRegister(MessagesIn, MessagesOut, ReplyLatency, SendErrors)
	// Export the latency histograms from the start, so dashboards and alerts see the series
	// before the first message arrives.
	for _, ch := range []string{"telegram", "sms", "terminal", "zalo", "web"} {
		ReplyLatency.WithLabelValues(ch)
	}
}

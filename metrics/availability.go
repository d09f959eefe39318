package metrics

import "github.com/prometheus/client_golang/prometheus"

// Metrics of availability: answers given without Redis, inbound messages kept in a local spool.
var (
	// Degraded counts messages answered in degraded mode (Redis unreachable), by channel.
	Degraded = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gateway_degraded_answers_total",
		Help: "Messages answered from memory while Redis was unreachable, by channel.",
	}, []string{"channel"})
	// Spooled counts inbound events kept in the local spool while Redis was unreachable, and
	// SpoolDropped those the full spool could not keep.
	Spooled = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gateway_spooled_total",
		Help: "Inbound events kept in the local spool while Redis was unreachable, by channel.",
	}, []string{"channel"})
	SpoolDropped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gateway_spool_dropped_total",
		Help: "Inbound events the full local spool refused (the provider was answered 503), by channel.",
	}, []string{"channel"})
)

func init() { Registry.MustRegister(Degraded, Spooled, SpoolDropped) }

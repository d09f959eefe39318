package metrics

import "github.com/prometheus/client_golang/prometheus"

// Metrics of cases (complaints, feedback, hand-offs) and of the supervision figures. Labels are
// kinds, channels, states and results: never a code, an address or a text.
var (
	// CasesOpened counts cases opened, by kind and channel ("staff" for cases staff entered).
	CasesOpened = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gateway_cases_opened_total",
		Help: "Cases opened, by kind and channel.",
	}, []string{"kind", "channel"})
	// CasesClosed counts cases closed, by kind.
	CasesClosed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gateway_cases_closed_total",
		Help: "Cases closed, by kind.",
	}, []string{"kind"})
	// CasesOverdue counts cases the first time they pass a deadline.
	CasesOverdue = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gateway_cases_overdue_total",
		Help: "Cases that passed a deadline (counted once per case), by kind.",
	}, []string{"kind"})
	// CaseDeliveries counts staff messages to citizens by outcome (sent, undeliverable, failed).
	CaseDeliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gateway_case_deliveries_total",
		Help: "Staff answers and closing notices to citizens, by channel and outcome.",
	}, []string{"channel", "state"})
	// CaseFirstResponse measures the time from opening a case to its first response.
	CaseFirstResponse = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "gateway_case_first_response_seconds",
		Help:    "Time from a case being opened to its first staff response.",
		Buckets: []float64{300, 1800, 3600, 4 * 3600, 8 * 3600, 24 * 3600, 2 * 24 * 3600, 5 * 24 * 3600, 10 * 24 * 3600, 30 * 24 * 3600},
	})
	// StatusChecks counts application status checks by result (verified, failed, locked).
	StatusChecks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gateway_status_checks_total",
		Help: "Application status checks by result.",
	}, []string{"result"})
)

func init() {
	Registry.MustRegister(CasesOpened, CasesClosed, CasesOverdue, CaseDeliveries, CaseFirstResponse, StatusChecks)
}

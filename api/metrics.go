package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

type metrics struct {
	registry     *prometheus.Registry
	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	operations   *prometheus.CounterVec
	authFailures prometheus.Counter
	auditDropped prometheus.Counter
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fountain_http_requests_total", Help: "HTTP requests by method, route and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "fountain_http_request_duration_seconds", Help: "HTTP request latency by method and route.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
		}, []string{"method", "route"}),
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fountain_operations_total", Help: "Finished operations by kind and status.",
		}, []string{"kind", "status"}),
	}
	m.authFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "fountain_auth_failures_total", Help: "Requests refused for a missing or wrong API token.",
	})
	m.auditDropped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "fountain_audit_dropped_total", Help: "Audit entries not recorded (the write queue was full, or the store failed).",
	})
	reg.MustRegister(m.requests, m.duration, m.operations, m.authFailures, m.auditDropped)
	// Process and Go metrics, unless the caller's registry has them already.
	_ = reg.Register(collectors.NewGoCollector())
	_ = reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{})
}

// observe records one request.
func (m *metrics) observe(method, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(method, route).Observe(d.Seconds())
}

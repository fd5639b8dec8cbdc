package api

import (
	"net/http"
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
	sshDials     prometheus.Counter
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fountain_http_requests_total", Help: "HTTP requests by method, route and status class (2xx, 4xx...).",
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
	m.sshDials = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "fountain_ssh_connections_total", Help: "SSH connections opened by operations' connect steps (a plan's reads of one host share one).",
	})
	reg.MustRegister(m.requests, m.duration, m.operations, m.authFailures, m.auditDropped, m.sshDials)
	// Process and Go metrics, unless the caller's registry has them already.
	_ = reg.Register(collectors.NewGoCollector())
	_ = reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// OnSSHConnection counts an SSH connection opened to a host; the deploy
// engine calls it.
func (s *Server) OnSSHConnection() { s.metrics.sshDials.Inc() }

func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{})
}

// observe records one request. Every label value comes from a fixed set,
// whatever the client sent: the method (methodLabel), the route pattern that
// matched or "unmatched" (the caller's), and the status class.
func (m *metrics) observe(method, route string, status int, d time.Duration) {
	method = methodLabel(method)
	m.requests.WithLabelValues(method, route, statusClass(status)).Inc()
	m.duration.WithLabelValues(method, route).Observe(d.Seconds())
}

// methodLabel is a request method as a label value: one of the methods of
// RFC 9110 (and PATCH), else "other". The raw method is the client's to
// choose: as a label it would add a series, kept for ever, per odd method.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "other"
}

// statusClasses are the label values of status codes 100-599.
var statusClasses = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

// statusClass is a status code's class as a label value ("4xx"), or
// "other" (0: nothing was written).
func statusClass(status int) string {
	if status < 100 || status > 599 {
		return "other"
	}
	return statusClasses[status/100-1]
}

// Command openloop sends one request at a fixed rate for a bounded time (an
// open loop: a slow answer does not delay the next request) and prints the
// latency percentiles. scripts/bench runs it against Fountain and the seed
// at the same rate. It uses vegeta's attacker, and reports latency two
// ways: as vegeta measures it (from when the request was sent), and from
// when the schedule said it should be sent, which also counts the time a
// request waited for the generator (no coordinated omission).
//
// It is a module of its own so that vegeta stays out of Fountain's
// dependencies. Only loopback targets are accepted.
//
//	go run . -url http://127.0.0.1:8000/aws/lightsail/create-instance -rate 5000 -duration 10s \
//	    -method POST -body '{"instance_name":"x"}' -header 'Authorization: Bearer TOKEN'
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// maxWorkers bounds the requests in flight (and so the connections): past
// it, requests wait for a worker, and that wait counts in the latency from
// the schedule.
const maxWorkers = 256

type headers []string

func (h *headers) String() string     { return strings.Join(*h, ", ") }
func (h *headers) Set(v string) error { *h = append(*h, v); return nil }

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "openloop:", err)
		os.Exit(1)
	}
}

func run() error {
	target := flag.String("url", "", "the loopback URL to send to")
	method := flag.String("method", "GET", "the request method")
	body := flag.String("body", "", "the request body")
	rate := flag.Int("rate", 5000, "requests per second (at most 50000)")
	duration := flag.Duration("duration", 10*time.Second, "how long to send (at most 60s)")
	name := flag.String("name", "", "a name for the report line")
	var hdrs headers
	flag.Var(&hdrs, "header", "a header, 'Name: value' (repeatable)")
	flag.Parse()

	u, err := url.Parse(*target)
	if err != nil || u.Hostname() == "" {
		return fmt.Errorf("-url %q is not a URL", *target)
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("-url %s: only loopback targets are allowed", *target)
	}
	if *rate <= 0 || *rate > 50000 || *duration <= 0 || *duration > time.Minute {
		return fmt.Errorf("-rate must be 1-50000 and -duration at most 1m")
	}
	h := http.Header{}
	for _, v := range hdrs {
		k, val, ok := strings.Cut(v, ":")
		if !ok {
			return fmt.Errorf("-header %q: want 'Name: value'", v)
		}
		h.Add(strings.TrimSpace(k), strings.TrimSpace(val))
	}

	tr := vegeta.NewStaticTargeter(vegeta.Target{Method: *method, URL: *target, Body: []byte(*body), Header: h})
	atk := vegeta.NewAttacker(vegeta.Timeout(10*time.Second), vegeta.KeepAlive(true), vegeta.Workers(64),
		vegeta.MaxWorkers(maxWorkers), vegeta.Connections(maxWorkers))
	pace := vegeta.Rate{Freq: *rate, Per: time.Second}
	interval := time.Second / time.Duration(*rate)

	began := time.Now()
	var sent, sched []time.Duration
	codes := map[uint16]int{}
	var last time.Time
	for res := range atk.Attack(tr, pace, *duration, *name) {
		codes[res.Code]++
		sent = append(sent, res.Latency)
		// When the constant pacer meant this request to go out.
		due := began.Add(time.Duration(res.Seq) * interval)
		sched = append(sched, max(res.Timestamp.Add(res.Latency).Sub(due), res.Latency))
		if end := res.Timestamp.Add(res.Latency); end.After(last) {
			last = end
		}
	}
	if len(sent) == 0 {
		return fmt.Errorf("no request was sent")
	}
	var cs []string
	for code, n := range codes {
		cs = append(cs, fmt.Sprintf("%d x%d", code, n))
	}
	slices.Sort(cs)
	fmt.Printf("%s: %d requests in %.1fs (%.0f/s asked %d/s), answers %s\n", *name, len(sent),
		last.Sub(began).Seconds(), float64(len(sent))/last.Sub(began).Seconds(), *rate, strings.Join(cs, ", "))
	p50, p99, top := percentiles(sent)
	fmt.Printf("  from send:     p50 %s  p99 %s  max %s\n", ms(p50), ms(p99), ms(top))
	p50, p99, top = percentiles(sched)
	fmt.Printf("  from schedule: p50 %s  p99 %s  max %s\n", ms(p50), ms(p99), ms(top))
	return nil
}

// percentiles returns the median, the 99th percentile and the maximum.
func percentiles(d []time.Duration) (p50, p99, top time.Duration) {
	slices.Sort(d)
	at := func(q float64) time.Duration { return d[min(len(d)-1, int(q*float64(len(d))))] }
	return at(0.50), at(0.99), d[len(d)-1]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// delaySeries is one series of the service's delay histograms: the prefix
// of its bucket lines on /metrics.
type delaySeries string

const (
	// processedDelay is an event's receipt to its processed status.
	processedDelay delaySeries = `reconciler_event_apply_delay_seconds_bucket{status="processed",le="`
	// paymentJobDelay is a manual payment's 202 to its job's end.
	paymentJobDelay delaySeries = `reconciler_job_delay_seconds_bucket{type="payment.record",le="`
)

// metric is the histogram's name.
func (s delaySeries) metric() string {
	name, _, _ := strings.Cut(string(s), "_bucket{")
	return name
}

// delayBuckets is such a series as /metrics shows it: cumulative counts by
// upper bound, in ascending order (the last +Inf).
type delayBuckets struct {
	bounds []float64
	counts []float64
}

// readDelayBuckets reads the series from base's /metrics.
func readDelayBuckets(ctx context.Context, base string, series delaySeries) (delayBuckets, error) {
	body, err := getMetrics(ctx, &http.Client{Timeout: 5 * time.Second}, base+"/metrics")
	if err != nil {
		return delayBuckets{}, err
	}
	defer body.Close()
	return parseDelayBuckets(body, series)
}

// getMetrics asks url, the service's /metrics, for its text; the caller
// closes it.
func getMetrics(ctx context.Context, client *http.Client, url string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	res, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read the service's metrics: %w", err)
	}
	return res.Body, nil
}

// delayWatch is a delay series read at a phase's start, so that its note
// at the end says what the phase added.
type delayWatch struct {
	base, what string // the service's address; what the series measures
	series     delaySeries
	before     delayBuckets
	err        error
}

func watchDelays(ctx context.Context, base, what string, series delaySeries) delayWatch {
	before, err := readDelayBuckets(ctx, base, series)
	return delayWatch{base: base, what: what, series: series, before: before, err: err}
}

// note reads the series again and says where the phase's p50 and p99 fall
// (delayNote), or why they could not be read.
func (w delayWatch) note(ctx context.Context) string {
	after, err := readDelayBuckets(ctx, w.base, w.series)
	if err := errors.Join(w.err, err); err != nil {
		return err.Error()
	}
	return delayNote(w.what, w.series, after.since(w.before))
}

// parseDelayBuckets reads the series' buckets from a /metrics text; none
// when the service has observed nothing of it yet.
func parseDelayBuckets(r io.Reader, series delaySeries) (delayBuckets, error) {
	var b delayBuckets
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), string(series))
		if !ok {
			continue
		}
		le, count, ok := strings.Cut(line, `"} `)
		if !ok {
			return delayBuckets{}, fmt.Errorf("read the service's delay histogram: %q", sc.Text())
		}
		bound, err := strconv.ParseFloat(le, 64) // "+Inf" parses as +Inf
		if err != nil {
			return delayBuckets{}, fmt.Errorf("read the service's delay histogram: %q: %w", sc.Text(), err)
		}
		n, err := strconv.ParseFloat(count, 64)
		if err != nil {
			return delayBuckets{}, fmt.Errorf("read the service's delay histogram: %q: %w", sc.Text(), err)
		}
		b.bounds, b.counts = append(b.bounds, bound), append(b.counts, n)
	}
	if !slices.IsSorted(b.bounds) {
		return delayBuckets{}, fmt.Errorf("read the service's delay histogram: bounds out of order: %v", b.bounds)
	}
	return b, sc.Err()
}

// since is what was observed after before was read.
func (b delayBuckets) since(before delayBuckets) delayBuckets {
	d := delayBuckets{bounds: b.bounds, counts: slices.Clone(b.counts)}
	if slices.Equal(before.bounds, b.bounds) {
		for i := range d.counts {
			d.counts[i] -= before.counts[i]
		}
	}
	return d
}

// total is how many delays the histogram holds.
func (b delayBuckets) total() float64 {
	if len(b.counts) == 0 {
		return 0
	}
	return b.counts[len(b.counts)-1]
}

// quantile is the bucket the q-th delay falls in: it is more than low and
// at most high seconds (high is +Inf past the last bound). ok is false
// when the histogram is empty.
func (b delayBuckets) quantile(q float64) (low, high float64, ok bool) {
	if b.total() == 0 {
		return 0, 0, false
	}
	rank := math.Ceil(q * b.total())
	for i, c := range b.counts {
		if c >= rank {
			if i > 0 {
				low = b.bounds[i-1]
			}
			return low, b.bounds[i], true
		}
	}
	return b.bounds[len(b.bounds)-1], math.Inf(1), true
}

// delayNote says where the series' p50 and p99 fall, for a phase's note
// beside the load generator's own figures; what says what it measures.
func delayNote(what string, series delaySeries, d delayBuckets) string {
	if d.total() == 0 {
		return fmt.Sprintf("the service's %s (%s): nothing observed", what, series.metric())
	}
	span := func(q float64) string {
		low, high, _ := d.quantile(q)
		return fmt.Sprintf("p%g in (%s, %s]", q*100, msOf(low), msOf(high))
	}
	return fmt.Sprintf("the service's %s (%s, %.0f observed): %s, %s", what, series.metric(), d.total(), span(0.50), span(0.99))
}

func msOf(seconds float64) string {
	if math.IsInf(seconds, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(seconds*1000, 'f', -1, 64) + "ms"
}

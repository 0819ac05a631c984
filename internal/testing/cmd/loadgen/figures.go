package main

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// emit prints one figure, machine-readable: "name value unit".
func emit(name string, value float64, unit string) {
	fmt.Fprintf(os.Stdout, "%s %s %s\n", name, format(value), unit)
}

// format prints v with about four significant digits and no exponent.
func format(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1000 || a == math.Trunc(a):
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'f', 4, 64)
	}
}

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// latencies collects durations and answers percentiles.
type latencies []time.Duration

// percentile is the q-quantile (0 < q <= 1) by the nearest-rank method; 0
// when empty. It sorts l.
func (l latencies) percentile(q float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	slices.Sort(l)
	i := int(math.Ceil(q*float64(len(l)))) - 1
	return l[max(0, min(i, len(l)-1))]
}

// summary is a one-line description for stderr.
func (l latencies) summary() string {
	if len(l) == 0 {
		return "no samples"
	}
	slices.Sort(l)
	return fmt.Sprintf("n=%d min=%.2fms p50=%.2fms p90=%.2fms p99=%.2fms p99.9=%.2fms max=%.2fms",
		len(l), ms(l[0]), ms(l.percentile(0.5)), ms(l.percentile(0.9)), ms(l.percentile(0.99)),
		ms(l.percentile(0.999)), ms(l[len(l)-1]))
}

// peakRSS reads the process's peak resident set (VmHWM) from /proc, in bytes.
func peakRSS() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, "VmHWM:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse VmHWM %q: %w", rest, err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("no VmHWM in /proc/self/status")
}

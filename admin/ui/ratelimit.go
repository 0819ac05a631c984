package ui

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Login limits: a token bucket per client address and one per key tried.
// Every attempt takes a token from both, so a burst of guesses from one
// place, or at one key from many places, soon has to wait; a failed attempt
// is also answered only after Config.FailedLoginDelay.
const (
	// DefaultLoginBurst is how many attempts may come at once.
	DefaultLoginBurst = 5
	// DefaultLoginEvery is how often the bucket gains one attempt back.
	DefaultLoginEvery = 12 * time.Second
	// DefaultFailedLoginDelay is how long a wrong key waits for its answer.
	DefaultFailedLoginDelay = time.Second
	// maxLimited bounds the buckets kept: beyond it, full ones (those that
	// would allow a burst anyway) are dropped.
	maxLimited = 10000
)

// loginLimiter keeps the buckets.
type loginLimiter struct {
	every time.Duration
	burst int

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

func newLoginLimiter(every time.Duration, burst int) *loginLimiter {
	return &loginLimiter{every: every, burst: burst, buckets: map[string]*rate.Limiter{}}
}

// allow takes one attempt from the address's bucket and the key's, at now.
// When either is empty it takes none and says how long to wait.
func (l *loginLimiter) allow(addr, key string, now time.Time) (wait time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buckets) > maxLimited {
		for k, b := range l.buckets {
			if b.TokensAt(now) >= float64(l.burst) {
				delete(l.buckets, k)
			}
		}
	}
	var taken []*rate.Reservation
	for _, name := range []string{"addr:" + addr, "key:" + fingerprint(key)} {
		b, found := l.buckets[name]
		if !found {
			b = rate.NewLimiter(rate.Every(l.every), l.burst)
			l.buckets[name] = b
		}
		r := b.ReserveN(now, 1)
		if d := r.DelayFrom(now); d > 0 {
			r.CancelAt(now)
			for _, t := range taken {
				t.CancelAt(now)
			}
			return d, false
		}
		taken = append(taken, r)
	}
	return 0, true
}

// fingerprint names a key tried without keeping it.
func fingerprint(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:12])
}

// clientAddress is the request's peer address, without its port. Behind a
// proxy every client shares the proxy's: the limit then applies to all of
// them together, which errs on the side of the guessing being slow.
func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func itoa(n int) string { return strconv.Itoa(n) }

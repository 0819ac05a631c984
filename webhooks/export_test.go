package webhooks

import "time"

// Verify exposes the signature check to the benchmarks of webhooks_test.
func Verify(secrets []string, tolerance time.Duration, payload []byte, header string) error {
	v := verifier{secrets: secrets, tolerance: tolerance}
	return v.verify(payload, header, time.Now())
}

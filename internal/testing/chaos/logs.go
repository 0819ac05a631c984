package chaos

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// scanLogs reads every log line of the service processes for the admin
// token, the webhook secret, the secrets of the notification endpoints the
// suite registered and the canary placed in event bodies and payment notes
// (a log that prints a body would show it), and for panics.
// The evidence names the file, the line and what leaked, never the secret.
func (d *driver) scanLogs(rep *Report) error {
	files, err := filepath.Glob(filepath.Join(d.c.logs, "*.log"))
	if err != nil {
		return err
	}
	sort.Strings(files)
	type secret struct {
		what  string
		value []byte
	}
	secrets := []secret{
		{"the admin token", []byte(d.c.token)},
		{"the webhook secret", []byte(d.c.secret)},
		{"a request body (the canary)", []byte(d.canary)},
	}
	for _, s := range d.recvSecrets {
		secrets = append(secrets, secret{"a notification endpoint's secret", []byte(s)})
	}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
		for n := 1; sc.Scan(); n++ {
			line := sc.Bytes()
			for _, s := range secrets {
				if bytes.Contains(line, s.value) {
					rep.SecretsInLogs++
					d.evidence("%s line %d holds %s", filepath.Base(name), n, s.what)
				}
			}
			if bytes.Contains(line, []byte("panic")) {
				rep.PanicsInLogs++
				d.evidence("%s line %d: %.300s", filepath.Base(name), n, line)
			}
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
	}
	return nil
}

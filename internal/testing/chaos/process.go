package chaos

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// process is one child process the suite may kill and start again: a
// service process or Redis. Each instance runs in its own process group, so
// a kill reaches whatever it started, and dies with the suite (Pdeathsig),
// so a suite that is itself killed leaves nothing behind. Its output is
// appended to one log file across restarts.
type process struct {
	name string
	path string
	args []string
	env  []string
	log  string

	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{} // closed when the current instance has exited
	exitErr  error         // how the current instance exited, once done
	expected bool          // the current instance's exit was asked for
	starts   int
	crashes  []string // unexpected exits, for the report
}

// start runs a new instance unless one is running.
func (p *process) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && !isClosed(p.done) {
		return nil
	}
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	cmd := exec.Command(p.path, p.args...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done, p.expected, p.exitErr = cmd, done, false, nil
	p.starts++
	go func() {
		err := cmd.Wait()
		f.Close()
		p.mu.Lock()
		p.exitErr = err
		if !p.expected {
			p.crashes = append(p.crashes, fmt.Sprintf("%s (pid %d) exited by itself: %v", p.name, cmd.Process.Pid, err))
		}
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

// signal sends sig to the current instance's process group and reports the
// channel closed when it exits; nil when nothing runs.
func (p *process) signal(sig syscall.Signal) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || isClosed(p.done) {
		return nil
	}
	p.expected = true
	_ = syscall.Kill(-p.cmd.Process.Pid, sig) // the group may be gone already
	return p.done
}

// pid is the current instance's pid; 0 when nothing runs.
func (p *process) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || isClosed(p.done) {
		return 0
	}
	return p.cmd.Process.Pid
}

// kill ends the current instance with SIGKILL and waits for it.
func (p *process) kill() {
	if done := p.signal(syscall.SIGKILL); done != nil {
		<-done
	}
}

// stop asks the current instance to end with SIGTERM, waits up to timeout
// (then kills it), and returns how it exited: nil for exit status 0.
func (p *process) stop(timeout time.Duration) error {
	done := p.signal(syscall.SIGTERM)
	if done == nil {
		return nil
	}
	select {
	case <-done:
	case <-time.After(timeout):
		p.kill()
		return fmt.Errorf("%s did not stop within %s of SIGTERM", p.name, timeout)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exitErr
}

// crashed reports whether the current instance exited without being asked.
func (p *process) crashed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil && isClosed(p.done) && !p.expected
}

// unexpectedExits lists the exits nobody asked for.
func (p *process) unexpectedExits() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.crashes...)
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// exitCode reads the status of an exit error; 0 for nil.
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

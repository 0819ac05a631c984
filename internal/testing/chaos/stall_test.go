package chaos

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
)

// procState reads a process's state letter from /proc/<pid>/stat: T when
// stopped, S or R when not.
func procState(t *testing.T, pid int) byte {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.LastIndexByte(b, ')')
	return b[i+2]
}

func TestStall(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	t.Run("children are found by their parent pid", func(t *testing.T) {
		var pids []int
		for range 2 {
			cmd := exec.Command("sleep", "30")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
			pids = append(pids, cmd.Process.Pid)
		}
		got := childrenOf(os.Getpid())
		for _, pid := range pids {
			if !slices.Contains(got, pid) {
				t.Errorf("childrenOf(%d) = %v, missing %d", os.Getpid(), got, pid)
			}
		}
	})

	t.Run("a stalled process is stopped for the stall and running after it", func(t *testing.T) {
		p := &process{name: "sleeper", path: "sleep", args: []string{"30"}, log: filepath.Join(t.TempDir(), "sleep.log")}
		if err := p.start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.kill)
		c := &cluster{redis: p}
		var during bool
		stopped, err := c.stall(t.Context(), 300*time.Millisecond, func() ([]int, error) {
			pids, err := c.stopRedis()
			during = err == nil && reaches(t, p.pid(), func(s byte) bool { return s == 'T' })
			return pids, err
		})
		if err != nil {
			t.Fatal(err)
		}
		if stopped != 1 {
			t.Errorf("stall stopped %d processes, want 1", stopped)
		}
		if !during {
			t.Error("the process was not stopped (state T) during the stall")
		}
		if !reaches(t, p.pid(), func(s byte) bool { return s != 'T' }) {
			t.Error("the process is still stopped after the stall")
		}
		if p.crashed() {
			t.Error("a stall made the process count as exited")
		}
	})

	t.Run("closing the cluster resumes what a stall left stopped", func(t *testing.T) {
		cmd := exec.Command("sleep", "30")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		c := &cluster{}
		if err := syscall.Kill(cmd.Process.Pid, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		c.frozen.add(cmd.Process.Pid)
		if !reaches(t, cmd.Process.Pid, func(s byte) bool { return s == 'T' }) {
			t.Fatal("SIGSTOP did not stop the process")
		}
		c.close()
		if !reaches(t, cmd.Process.Pid, func(s byte) bool { return s != 'T' }) {
			t.Error("the process is still stopped after the cluster closed")
		}
	})
}

// reaches reports whether the state of process pid satisfies ok within a
// few seconds: a signal takes effect when the process is next scheduled.
func reaches(t *testing.T, pid int, ok func(state byte) bool) bool {
	t.Helper()
	for range 300 {
		if ok(procState(t, pid)) {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// Package proccpu reads the CPU a process of this machine has used, from
// /proc: what the load generator and the benchmarks divide by the work
// done, for the service, PostgreSQL's backends and themselves.
package proccpu

import (
	"bytes"
	"os"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, 100 on every Linux this runs on.
const clockTicks = 100

// Seconds is the user and system CPU pid has used, in seconds, and whether
// it could be read (not for a process gone, nor without /proc).
func Seconds(pid int) (float64, bool) {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The fields after the command name (which may hold spaces): state,
	// then ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
	// utime stime.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(fields) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return float64(utime+stime) / clockTicks, true
}

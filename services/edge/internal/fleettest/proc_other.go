//go:build unix && !linux

package fleettest

import "syscall"

// terminate asks a replica for a graceful shutdown.
const terminate = syscall.SIGTERM

// sysProcAttr: only Linux has a parent-death signal; elsewhere a killed
// test binary can leave a replica running.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }

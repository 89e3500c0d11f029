package redistest

import "syscall"

// sysProcAttr makes the kernel stop redis-server if the test binary dies
// before its cleanup runs.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}

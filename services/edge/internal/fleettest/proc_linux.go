package fleettest

import "syscall"

// terminate asks a replica for a graceful shutdown.
const terminate = syscall.SIGTERM

// sysProcAttr makes the kernel kill a replica if the process that started
// it dies first, so a killed `go test` leaves no control plane behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

//go:build unix && !linux

package pgtest

import (
	"os"
	"syscall"
)

// sysProcAttr runs a child as cred (when set). Only Linux has a parent-death
// signal; elsewhere a killed test binary can leave its server running.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred}
}

func lockDir(dir string) (*os.File, error) { return os.Open(dir) }

func removeStaleDirs() {}

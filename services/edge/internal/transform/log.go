package transform

// This file holds the one Go function C calls back; cgo allows only
// declarations in the preamble of a file that exports, so it stays apart.

import "C"

import (
	"log/slog"
	"sync/atomic"
)

// vipsLog receives libvips' GLib log messages. libvips logs per process, so
// the first Engine's logger is used.
var vipsLog atomic.Pointer[slog.Logger]

//export pictorLog
func pictorLog(domain *C.char, level C.int, msg *C.char) {
	l := vipsLog.Load()
	if l == nil {
		return
	}
	// Warnings about one bad file are not operational news: the transform
	// that hit it already fails or succeeds on its own, with its own log line.
	l.Debug("libvips", "domain", C.GoString(domain), "glib_level", glibLevel(int(level)), "msg", C.GoString(msg))
}

func glibLevel(l int) string {
	switch {
	case l&(1<<4) != 0:
		return "warning"
	case l&(1<<5) != 0:
		return "message"
	case l&(1<<6) != 0:
		return "info"
	}
	return "debug"
}

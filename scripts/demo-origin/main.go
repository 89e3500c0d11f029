// Command demo-origin is the dev stack's stand-in for a customer's web
// server: it serves the files under one directory over plain HTTP, the way
// a Pictor WEB_FOLDER origin expects. It uses the standard library only and
// has no go.mod of its own; scripts/dev.sh builds it with
//
//	GOWORK=off go build -o .dev/bin/demo-origin ./scripts/demo-origin/main.go
//
// Usage: demo-origin -addr 127.0.0.1:8079 -dir /usr/share/backgrounds/mate
package main

import (
	"context"
	"errors"
	"flag"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8079", "listen address")
	dir := flag.String("dir", "/usr/share/backgrounds/mate", "directory to serve")
	flag.Parse()

	logger := slog.New(slog.NewTextHandler(os.Stdout, nil))
	if st, err := os.Stat(*dir); err != nil || !st.IsDir() {
		logger.Error("directory to serve is missing", "dir", *dir, "err", err)
		os.Exit(1)
	}

	srv := &http.Server{
		Addr:              *addr,
		Handler:           newHandler(*dir, logger),
		ReadHeaderTimeout: 10 * time.Second,
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	logger.Info("demo origin listening", "addr", *addr, "dir", *dir)

	select {
	case err := <-errc:
		logger.Error("server stopped", "err", err)
		os.Exit(1)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Error("shutdown", "err", err)
		os.Exit(1)
	}
	logger.Info("demo origin stopped")
}

// newHandler serves files (no directory listings) plus GET /healthz, and
// logs each request with its status.
func newHandler(dir string, logger *slog.Logger) http.Handler {
	files := http.FileServerFS(noDirs{os.DirFS(dir)})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		switch {
		case r.URL.Path == "/healthz":
			rec.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = rec.Write([]byte("ok\n"))
		case r.Method != http.MethodGet && r.Method != http.MethodHead:
			rec.Header().Set("Allow", "GET, HEAD")
			http.Error(rec, "method not allowed", http.StatusMethodNotAllowed)
		default:
			files.ServeHTTP(rec, r)
		}
		logger.Info("request", "method", r.Method, "path", r.URL.Path, "query", r.URL.RawQuery, "status", rec.status,
			"bytes", rec.bytes, "duration", time.Since(start).Round(time.Microsecond),
			"via", r.Header.Get("Via"), "user_agent", r.UserAgent())
	})
}

// noDirs hides directories, so a request for a folder is a 404 rather than
// a listing (a web-server origin serves files, not indexes).
type noDirs struct{ fsys fs.FS }

func (n noDirs) Open(name string) (fs.File, error) {
	f, err := n.fsys.Open(name)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	if st.IsDir() {
		_ = f.Close()
		return nil, fs.ErrNotExist
	}
	return f, nil
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

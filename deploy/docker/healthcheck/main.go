// Command healthcheck is the health probe baked into Pictor's container
// images: it GETs one URL and exits 0 when the answer is 2xx, 1 when it is
// anything else or nothing, and 2 on bad usage.
//
//	healthcheck [-timeout 2s] http://127.0.0.1:8080/healthz
//
// Docker's HEALTHCHECK and compose's healthcheck run a command inside the
// container, and the runtime images have no HTTP client to run: distroless
// has no shell at all and debian:bookworm-slim has neither curl nor wget.
// This stdlib-only program is the smallest thing that fits; every
// Dockerfile builds it from this one file. Kubernetes does not need it: its
// probes are httpGet.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", 2*time.Second, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: healthcheck [-timeout 2s] http://127.0.0.1:PORT/PATH")
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 || *timeout <= 0 {
		fs.Usage()
		return 2
	}
	u, err := url.Parse(fs.Arg(0))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fmt.Fprintf(stderr, "healthcheck: want an absolute http(s) URL, got %q\n", fs.Arg(0))
		return 2
	}
	client := &http.Client{
		Timeout: *timeout,
		// The probe targets the container itself: never a proxy from the
		// environment, and a redirect is an answer, not something to follow.
		Transport:     &http.Transport{Proxy: nil, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Get(u.String())
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return 1
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		fmt.Fprintf(stderr, "healthcheck: %s answered %s\n", u, resp.Status)
		return 1
	}
	return 0
}

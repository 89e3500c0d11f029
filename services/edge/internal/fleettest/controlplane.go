// Package fleettest runs a simulated Pictor fleet on one machine: real
// control-plane replicas (the `controlplane serve` binary, as processes
// over one Postgres database) and any number of in-process edges, each a
// real configwatch client with its own routing table, data directory and
// usage meter. The fleet tests and the config-propagation benchmark
// (cmd/benchconfig) are built on it.
//
// The control plane runs as a process because Go's internal-package rule
// keeps its packages out of the edge's reach (and the edge's out of its);
// that is also the honest set-up for fault tests: a replica can be killed
// with SIGKILL mid-stream, exactly as a crash would.
package fleettest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// EnvControlPlaneBin names a prebuilt controlplane binary to use instead of
// building one.
const EnvControlPlaneBin = "PICTOR_CONTROLPLANE_BIN"

// BuildControlPlane returns the path of a controlplane binary: the one
// named by PICTOR_CONTROLPLANE_BIN, else one built from moduleDir (the
// services/controlplane directory) into outDir with the go command.
func BuildControlPlane(ctx context.Context, moduleDir, outDir string) (string, error) {
	if bin := os.Getenv(EnvControlPlaneBin); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			return "", fmt.Errorf("%s: %w", EnvControlPlaneBin, err)
		}
		return bin, nil
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("build controlplane: no go command on PATH (or set %s): %w", EnvControlPlaneBin, err)
	}
	out := filepath.Join(outDir, "controlplane")
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", out, "./cmd/controlplane")
	cmd.Dir = moduleDir
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build controlplane in %s: %w\n%s", moduleDir, err, msg)
	}
	return out, nil
}

// ControlPlaneConfig says how to run a replica.
type ControlPlaneConfig struct {
	Bin         string
	DatabaseURL string
	AdminToken  string
	EdgeToken   string
	MasterKey   string // 64 hex digits
	// HTTPAddr and GRPCAddr default to a free loopback port each; a
	// restart keeps the ports the first start got.
	HTTPAddr, GRPCAddr string
	// Env holds further NAME=VALUE settings (TLS files). The log level
	// must stay info or lower: start-up is detected from the "serving"
	// line.
	Env []string
}

// ControlPlane is one replica process.
type ControlPlane struct {
	cfg ControlPlaneConfig

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	logs strings.Builder
}

// StartControlPlane starts a replica and waits until it serves.
func StartControlPlane(ctx context.Context, cfg ControlPlaneConfig) (*ControlPlane, error) {
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = "127.0.0.1:0"
	}
	if cfg.GRPCAddr == "" {
		cfg.GRPCAddr = "127.0.0.1:0"
	}
	c := &ControlPlane{cfg: cfg}
	if err := c.start(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// HTTPAddr and GRPCAddr are where the replica listens.
func (c *ControlPlane) HTTPAddr() string { return c.cfg.HTTPAddr }
func (c *ControlPlane) GRPCAddr() string { return c.cfg.GRPCAddr }

// Logs returns everything the replica logged, across restarts.
func (c *ControlPlane) Logs() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.logs.String()
}

// servingLine is the start-up log line that carries the bound addresses.
type servingLine struct {
	Msg      string `json:"msg"`
	HTTPAddr string `json:"http_addr"`
	GRPCAddr string `json:"grpc_addr"`
}

func (c *ControlPlane) start(ctx context.Context) error {
	cmd := exec.Command(c.cfg.Bin, "serve")
	cmd.Env = append(os.Environ(),
		"PICTOR_DATABASE_URL="+c.cfg.DatabaseURL,
		"PICTOR_HTTP_ADDR="+c.cfg.HTTPAddr,
		"PICTOR_GRPC_ADDR="+c.cfg.GRPCAddr,
		"PICTOR_ADMIN_TOKEN="+c.cfg.AdminToken,
		"PICTOR_EDGE_TOKEN="+c.cfg.EdgeToken,
		"PICTOR_MASTER_KEY="+c.cfg.MasterKey,
		"PICTOR_LOG_FORMAT=json",
	)
	cmd.Env = append(cmd.Env, c.cfg.Env...)
	cmd.SysProcAttr = sysProcAttr()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return fmt.Errorf("control plane stderr: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start control plane: %w", err)
	}
	done := make(chan struct{})
	serving := make(chan servingLine, 1)
	go func() {
		c.scan(stderr, serving)
		cmd.Wait()
		close(done)
	}()
	c.mu.Lock()
	c.cmd, c.done = cmd, done
	c.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	select {
	case s := <-serving:
		c.cfg.HTTPAddr, c.cfg.GRPCAddr = s.HTTPAddr, s.GRPCAddr
		return nil
	case <-done:
		return fmt.Errorf("control plane exited before serving:\n%s", tail(c.Logs(), 30))
	case <-ctx.Done():
		c.Kill()
		return fmt.Errorf("control plane not serving: %w\n%s", ctx.Err(), tail(c.Logs(), 30))
	}
}

// scan keeps the replica's log and reports its "serving" line.
func (c *ControlPlane) scan(r io.Reader, serving chan<- servingLine) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		c.mu.Lock()
		c.logs.Write(line)
		c.logs.WriteByte('\n')
		c.mu.Unlock()
		var s servingLine
		if json.Unmarshal(line, &s) == nil && s.Msg == "serving" && s.GRPCAddr != "" {
			select {
			case serving <- s:
			default:
			}
		}
	}
}

// Kill ends the replica with SIGKILL, as a crash would: no stream is
// closed, nothing is marked disconnected.
func (c *ControlPlane) Kill() error {
	c.mu.Lock()
	cmd, done := c.cmd, c.done
	c.mu.Unlock()
	if cmd == nil {
		return nil
	}
	if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill control plane: %w", err)
	}
	<-done
	return nil
}

// Stop ends the replica with SIGTERM (a graceful shutdown) and waits.
func (c *ControlPlane) Stop() error {
	c.mu.Lock()
	cmd, done := c.cmd, c.done
	c.mu.Unlock()
	if cmd == nil {
		return nil
	}
	if err := cmd.Process.Signal(terminate); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop control plane: %w", err)
	}
	select {
	case <-done:
		return nil
	case <-time.After(20 * time.Second):
		return c.Kill()
	}
}

// Restart starts the replica again on the same addresses.
func (c *ControlPlane) Restart(ctx context.Context) error {
	c.mu.Lock()
	done := c.done
	c.mu.Unlock()
	select {
	case <-done:
	default:
		return errors.New("restart control plane: still running")
	}
	return c.start(ctx)
}

func tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

// Metric reads one unlabelled metric from the replica's /metrics.
func (c *ControlPlane) Metric(ctx context.Context, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.HTTPAddr()+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("read metrics: %w", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("metric %s not found", name)
}

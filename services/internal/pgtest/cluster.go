package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// dirPrefix names the temporary directories of private clusters, so a later
// run can find and remove the ones a killed test binary left behind.
const dirPrefix = "pictor-pgtest-"

// cluster is a private Postgres server owned by this test binary.
type cluster struct {
	dir  string   // temporary directory: data, socket and log
	lock *os.File // flock on dir held for the cluster's life
	bin  string   // directory of initdb and postgres
	cred *syscall.Credential
	port int
	// durable keeps synchronous commits, so an immediate shutdown (a
	// crash) loses no committed transaction.
	durable bool
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the postmaster has exited
	url     string
}

// startCluster runs initdb into a fresh temporary directory and starts a
// postmaster tuned for throwaway data on a free loopback port.
func startCluster(ctx context.Context, durable bool) (*cluster, error) {
	bin, err := findBinDir()
	if err != nil {
		return nil, err
	}
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	removeStaleDirs()

	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		return nil, fmt.Errorf("create cluster directory: %w", err)
	}
	c := &cluster{dir: dir, bin: bin, cred: cred, durable: durable}
	if c.lock, err = lockDir(dir); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := c.start(ctx); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

func (c *cluster) start(ctx context.Context) error {
	if c.cred != nil {
		// Postgres refuses to run as root; the directory must belong to
		// the user it runs as.
		if err := os.Chown(c.dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return fmt.Errorf("chown %s to the postgres user: %w", c.dir, err)
		}
	}
	logFile, err := c.openLog()
	if err != nil {
		return err
	}
	defer logFile.Close() // the children keep their own descriptor

	initdb := exec.CommandContext(ctx, filepath.Join(c.bin, "initdb"),
		"-D", c.dataDir(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.Stdout, initdb.Stderr = logFile, logFile
	initdb.Env = childEnv()
	initdb.SysProcAttr = sysProcAttr(c.cred)
	if err := initdb.Run(); err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, tail(c.logPath()))
	}

	// A free port can be taken between probing it and the postmaster
	// binding it; try a few.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return err
		}
		if lastErr = c.run(ctx, port); lastErr == nil {
			return nil
		}
	}
	return fmt.Errorf("postgres did not start: %w\n%s", lastErr, tail(c.logPath()))
}

func (c *cluster) dataDir() string { return filepath.Join(c.dir, "data") }
func (c *cluster) logPath() string { return filepath.Join(c.dir, "postgres.log") }

func (c *cluster) openLog() (*os.File, error) {
	f, err := os.OpenFile(c.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open server log: %w", err)
	}
	return f, nil
}

// run starts the postmaster on port over the initialised data directory
// and waits until it accepts connections.
func (c *cluster) run(ctx context.Context, port int) error {
	logFile, err := c.openLog()
	if err != nil {
		return err
	}
	defer logFile.Close()
	// Throwaway data: nothing is flushed to disk. Without durable, a
	// commit returns before its WAL is written, which an immediate
	// shutdown loses.
	syncCommit := "synchronous_commit=off"
	if c.durable {
		syncCommit = "synchronous_commit=on"
	}
	cmd := exec.Command(filepath.Join(c.bin, "postgres"),
		"-D", c.dataDir(),
		"-p", strconv.Itoa(port),
		"-k", c.dir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off",
		"-c", syncCommit,
		"-c", "full_page_writes=off",
		"-c", "max_connections=200",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = childEnv()
	cmd.SysProcAttr = sysProcAttr(c.cred)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	c.cmd = cmd
	c.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) {
		cmd.Wait()
		close(exited)
	}(cmd, c.exited)
	c.port = port
	c.url = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	if err := c.waitReady(ctx); err != nil {
		c.kill()
		return err
	}
	return nil
}

// waitReady polls until the server accepts connections, the postmaster
// exits or ctx ends.
func (c *cluster) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		conn, err := pgx.Connect(cctx, c.url)
		cancel()
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		select {
		case <-c.exited:
			return fmt.Errorf("postmaster exited: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after 30s: %w", err)
		}
	}
}

// kill ends the postmaster with an immediate shutdown (SIGQUIT): the data
// is thrown away, so there is nothing to checkpoint. SIGKILL follows if it
// lingers.
func (c *cluster) kill() {
	if c.cmd == nil {
		return
	}
	c.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		<-c.exited
	}
	c.cmd = nil
}

func (c *cluster) stop() error {
	c.kill()
	if c.lock != nil {
		c.lock.Close()
	}
	if err := os.RemoveAll(c.dir); err != nil {
		return fmt.Errorf("remove cluster directory: %w", err)
	}
	return nil
}

// findBinDir returns the newest /usr/lib/postgresql/*/bin holding a
// postgres binary (Debian's layout), else the directory of postgres on PATH.
func findBinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	type candidate struct {
		dir string
		ver []int
	}
	var cands []candidate
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err != nil {
			continue
		}
		var ver []int
		for _, p := range strings.Split(filepath.Base(filepath.Dir(d)), ".") {
			n, err := strconv.Atoi(p)
			if err != nil {
				n = -1
			}
			ver = append(ver, n)
		}
		cands = append(cands, candidate{d, ver})
	}
	if len(cands) > 0 {
		sort.Slice(cands, func(i, j int) bool {
			a, b := cands[i].ver, cands[j].ver
			for k := 0; k < len(a) && k < len(b); k++ {
				if a[k] != b[k] {
					return a[k] > b[k]
				}
			}
			return len(a) > len(b)
		})
		return cands[0].dir, nil
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("no Postgres server binaries under /usr/lib/postgresql/*/bin or on PATH (install postgresql, or set %s)", EnvURL)
}

// serverCredential returns the credential to run Postgres under: nil when
// not root, else Debian's postgres user.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root: Postgres refuses root and there is no postgres user to run it as (%w); install postgresql or set %s", err, EnvURL)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("postgres user ids: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

// childEnv is our environment without PG* variables, which would otherwise
// steer initdb and postgres away from the flags given.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	return append(env, "LC_ALL=C")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the end of a log file, for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	const max = 4096
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	configv1 "pictor/proto/pictor/config/v1"
	"pictor/services/internal/pgmigrate"
	"pictor/services/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

const hexKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func serveEnv(edit func(map[string]string)) map[string]string {
	m := map[string]string{
		envDatabaseURL: "postgres://pictor:s3cret@db.example:5432/pictor",
		envAdminToken:  "admin-token-0123456789",
		envEdgeToken:   "edge-token-0123456789",
		envMasterKey:   hexKey,
	}
	if edit != nil {
		edit(m)
	}
	return m
}

func TestLoadConfig(t *testing.T) {
	c, err := loadConfig(env(serveEnv(nil)), true)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != ":8080" || c.GRPCAddr != ":8090" || c.PublicEdgeURL != "http://127.0.0.1:8081" ||
		c.AllowPrivateOrigins || c.LogFormat != "text" || c.LogLevel.String() != "INFO" || len(c.MasterKey) != 32 {
		t.Fatalf("defaults: %+v", c)
	}

	tests := []struct {
		name    string
		edit    func(map[string]string)
		serve   bool
		wantErr []string // each must appear in the error
	}{
		{"migrate needs only the database", func(m map[string]string) {
			delete(m, envAdminToken)
			delete(m, envMasterKey)
		}, false, nil},
		{"migrate without database", func(m map[string]string) { delete(m, envDatabaseURL) }, false, []string{envDatabaseURL}},
		{"all problems at once", func(m map[string]string) {
			delete(m, envDatabaseURL)
			delete(m, envAdminToken)
			m[envEdgeToken] = "has space"
			m[envMasterKey] = "abc"
			m[envAllowPrivateOrigins] = "maybe"
			m[envHTTPAddr] = "8080"
			m[envGRPCAddr] = ":99999"
			m[envPublicEdgeURL] = "edge:8081"
			m[envLogLevel] = "loud"
			m[envLogFormat] = "xml"
		}, true, []string{envDatabaseURL, envAdminToken, envEdgeToken, envMasterKey, envAllowPrivateOrigins,
			envHTTPAddr, envGRPCAddr, envPublicEdgeURL, envLogLevel, envLogFormat}},
		{"base64 master key and options", func(m map[string]string) {
			m[envMasterKey] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
			m[envAllowPrivateOrigins] = "true"
			m[envLogFormat] = "json"
			m[envLogLevel] = "debug"
			m[envPublicEdgeURL] = "https://img.example.com/"
			m[envHTTPAddr] = "127.0.0.1:0"
		}, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfig(env(serveEnv(tt.edit)), tt.serve)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %s:\n%v", w, err)
				}
			}
		})
	}
}

func TestSecretsMasked(t *testing.T) {
	c, err := loadConfig(env(serveEnv(nil)), true)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	newLogger(&buf, 0, "json").Info("configuration", c.logAttrs(true)...)
	out := buf.String()
	for _, secret := range []string{"s3cret", "admin-token-0123456789", "edge-token-0123456789", hexKey, string(c.MasterKey)} {
		if strings.Contains(out, secret) {
			t.Fatalf("printed configuration leaks %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, `"database_url":"postgres://pictor:xxxxx@db.example:5432/pictor"`) {
		t.Fatalf("database URL not shown redacted:\n%s", out)
	}

	redact := []struct{ in, want string }{
		{"postgres://u:p@h/db", "postgres://u:xxxxx@h/db"},
		{"postgres://u@h/db?password=p&sslmode=disable", "postgres://u@h/db?password=xxxxx&sslmode=disable"},
		{"host=h user=u password=p dbname=d", "host=h user=u password=xxxxx dbname=d"},
		{"host=h password='p q' dbname=d", "host=h password=xxxxx dbname=d"},
	}
	for _, r := range redact {
		if got := redactDatabaseURL(r.in); got != r.want {
			t.Errorf("redact(%q) = %q, want %q", r.in, got, r.want)
		}
	}
}

func TestUsage(t *testing.T) {
	configured := env(serveEnv(nil))
	tests := []struct {
		name string
		args []string
		env  func(string) string
		want int
	}{
		{"no command", nil, configured, 2},
		{"help", []string{"help"}, configured, 0},
		{"unknown command", []string{"frobnicate"}, configured, 2},
		{"serve with arguments", []string{"serve", "extra"}, configured, 2},
		{"unknown migrate direction", []string{"migrate", "sideways"}, configured, 2},
		{"bad step count", []string{"migrate", "down", "zero"}, configured, 2},
		{"serve without configuration", []string{"serve"}, env(nil), 2},
		{"migrate without configuration", []string{"migrate"}, env(nil), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if got := run(context.Background(), tt.args, tt.env, io.Discard, &stderr, nil); got != tt.want {
				t.Errorf("run %v = %d, want %d; stderr:\n%s", tt.args, got, tt.want, stderr.String())
			}
		})
	}
}

func TestMigrateCommands(t *testing.T) {
	url := pgtest.NewDatabase(t)
	e := env(map[string]string{envDatabaseURL: url})
	latest, err := pgmigrate.Latest()
	if err != nil {
		t.Fatal(err)
	}
	// Down and up again through every migration: each down file must undo
	// its up file, or the second up fails.
	top, below := strconv.FormatUint(uint64(latest), 10), strconv.FormatUint(uint64(latest-1), 10)
	steps := []struct {
		args        []string
		wantVersion string
	}{
		{[]string{"migrate", "down"}, "0"},
		{[]string{"migrate"}, top},
		{[]string{"migrate", "down", "1"}, below},
		{[]string{"migrate", "up"}, top},
		{[]string{"migrate", "up"}, top},
	}
	for _, s := range steps {
		var stderr bytes.Buffer
		if code := run(context.Background(), s.args, e, io.Discard, &stderr, nil); code != 0 {
			t.Fatalf("%v exited %d:\n%s", s.args, code, stderr.String())
		}
		var stdout bytes.Buffer
		if code := run(context.Background(), []string{"migrate", "version"}, e, &stdout, io.Discard, nil); code != 0 {
			t.Fatalf("migrate version exited %d", code)
		}
		if got := strings.TrimSpace(stdout.String()); got != s.wantVersion {
			t.Fatalf("after %v: version %s, want %s", s.args, got, s.wantVersion)
		}
	}
}

// served is a running `controlplane serve`.
type served struct {
	http, grpc string
	env        map[string]string
	cancel     context.CancelFunc // as SIGTERM would
	exited     chan int
	stderr     *lockedBuffer
}

// startServe runs the real serve command against a fresh database until
// the test ends.
func startServe(t *testing.T, edit func(map[string]string)) *served {
	t.Helper()
	m := serveEnv(func(m map[string]string) {
		m[envDatabaseURL] = pgtest.NewDatabase(t)
		m[envHTTPAddr] = "127.0.0.1:0"
		m[envGRPCAddr] = "127.0.0.1:0"
		m[envAllowPrivateOrigins] = "true"
		if edit != nil {
			edit(m)
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	s := &served{env: m, cancel: cancel, exited: make(chan int, 1), stderr: &lockedBuffer{}}
	type addrs struct{ http, grpc string }
	ready := make(chan addrs, 1)
	go func() {
		s.exited <- run(ctx, []string{"serve"}, env(m), io.Discard, s.stderr, func(h, g string) { ready <- addrs{h, g} })
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.exited:
		case <-time.After(20 * time.Second):
			t.Error("serve did not stop")
		}
	})
	select {
	case a := <-ready:
		s.http, s.grpc = a.http, a.grpc
	case code := <-s.exited:
		s.exited <- code
		t.Fatalf("serve exited %d:\n%s", code, s.stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not start")
	}
	return s
}

// lockedBuffer is a bytes.Buffer safe for the server's logger and the test
// to share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestServe runs the real command: it answers HTTP and gRPC, creates an
// account, streams its config and stops cleanly on cancellation.
func TestServe(t *testing.T) {
	s := startServe(t, nil)
	m, ctx := s.env, context.Background()
	res, err := http.Get("http://" + s.http + "/readyz")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("/readyz: %v %v", res, err)
	}
	res.Body.Close()
	body := `{"id":"demo","name":"Demo","ownerEmail":"demo@example.com"}`
	req, _ := http.NewRequest("POST", "http://"+s.http+"/admin/v1/accounts", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+m[envAdminToken])
	res, err = http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 201 {
		t.Fatalf("create account: %v %v", res, err)
	}
	var createdAccount struct{ URLEndpoint struct{ URLEndpoint string } }
	json.NewDecoder(res.Body).Decode(&createdAccount)
	res.Body.Close()
	if createdAccount.URLEndpoint.URLEndpoint != "http://127.0.0.1:8081/demo" {
		t.Fatalf("urlEndpoint %q", createdAccount.URLEndpoint.URLEndpoint)
	}

	conn, err := grpc.NewClient(s.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sctx, cancelStream := context.WithCancel(metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+m[envEdgeToken]))
	defer cancelStream()
	stream, err := configv1.NewConfigServiceClient(conn).Watch(sctx)
	if err != nil {
		t.Fatal(err)
	}
	stream.Send(&configv1.WatchRequest{Kind: &configv1.WatchRequest_Hello{Hello: &configv1.Hello{NodeId: "edge-serve"}}})
	for {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if snap := resp.GetSnapshot(); snap != nil && len(snap.Accounts) == 1 && snap.Accounts[0].Id == "demo" && len(snap.Accounts[0].Keys) == 1 {
			break
		}
	}

	s.cancel() // as SIGTERM would
	select {
	case code := <-s.exited:
		s.exited <- code // for the cleanup
		if code != 0 {
			t.Fatalf("serve exited %d:\n%s", code, s.stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
	if _, err := stream.Recv(); err == nil {
		t.Fatal("stream still open after shutdown")
	}
	if !strings.Contains(s.stderr.String(), "stopped") {
		t.Fatalf("no clean stop logged:\n%s", s.stderr.String())
	}
}

func TestLoadAPIConfig(t *testing.T) {
	c, err := loadConfig(env(serveEnv(nil)), true)
	if err != nil {
		t.Fatal(err)
	}
	if c.APIRateLimit != 1200 || !c.SignupEnabled || c.DashboardOrigin != "" || c.CookieSecure {
		t.Fatalf("defaults: %+v", c)
	}
	c, err = loadConfig(env(serveEnv(func(m map[string]string) {
		m[envAPIRateLimit] = "30"
		m[envSignupEnabled] = "false"
		m[envDashboardOrigin] = "https://dash.example.com/"
		m[envCookieSecure] = "true"
	})), true)
	if err != nil || c.APIRateLimit != 30 || c.SignupEnabled || c.DashboardOrigin != "https://dash.example.com" || !c.CookieSecure {
		t.Fatalf("set: %+v, %v", c, err)
	}
	_, err = loadConfig(env(serveEnv(func(m map[string]string) {
		m[envAPIRateLimit] = "0"
		m[envSignupEnabled] = "perhaps"
		m[envDashboardOrigin] = "https://dash.example.com/app"
		m[envCookieSecure] = "2"
	})), true)
	for _, name := range []string{envAPIRateLimit, envSignupEnabled, envDashboardOrigin, envCookieSecure} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error %v does not mention %s", err, name)
		}
	}
}

func TestTrustedProxies(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		want    string // the parsed ranges, space-separated
		wantErr bool
		warn    bool
	}{
		{"unset", "", "", false, false},
		{"ranges and addresses", " 10.0.0.0/8 , 192.0.2.7,fd00::/8", "10.0.0.0/8 192.0.2.7/32 fd00::/8", false, false},
		{"host bits are dropped", "10.1.2.3/8", "10.0.0.0/8", false, false},
		{"an IPv4-mapped address is IPv4", "::ffff:10.1.2.3", "10.1.2.3/32", false, false},
		{"an IPv4-mapped range is refused", "::ffff:10.0.0.0/104", "", true, false},
		{"a zoned address is refused", "fe80::1%eth0", "", true, false},
		{"not an address", "10.0.0.0/8,proxy.internal", "", true, false},
		{"everyone trusted: a warning", "0.0.0.0/0", "0.0.0.0/0", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadConfig(env(serveEnv(func(m map[string]string) { m[envTrustedProxies] = tt.value })), true)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), envTrustedProxies) {
					t.Fatalf("error %v, want one naming %s", err, envTrustedProxies)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range c.TrustedProxies {
				got = append(got, p.String())
			}
			if strings.Join(got, " ") != tt.want {
				t.Fatalf("parsed %v, want %s", got, tt.want)
			}
			warned := strings.Contains(strings.Join(c.warnings(), "\n"), envTrustedProxies)
			if warned != tt.warn {
				t.Fatalf("warnings %q; want a %s warning: %v", c.warnings(), envTrustedProxies, tt.warn)
			}
		})
	}
}

// Package configwatch is the edge's side of the control plane's Watch
// stream (DESIGN §9): it receives versioned config snapshots, hands each to
// the caller to validate and swap in, keeps the last good one on disk and
// answers every snapshot with an ACK or a NACK, in the way Envoy's xDS
// clients do.
//
// The edge keeps serving whatever it last applied while the control plane
// is unreachable, and reconnects with jittered exponential backoff.
package configwatch

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	configv1 "pictor/proto/pictor/config/v1"
	"pictor/services/edge/internal/panics"
	"pictor/services/internal/configdelta"
)

// CapabilityVersion is the snapshot schema this edge understands; the
// control plane never sends one that needs more.
const CapabilityVersion = 2

// DefaultIdleTimeout is how long a stream may stay silent before the edge
// assumes the connection is dead (a control-plane host that vanished
// without closing its sockets) and reconnects. The control plane's
// keepalives must come more often than this.
const DefaultIdleTimeout = 2 * time.Minute

// DefaultPersistEvery is Config.PersistEvery's default: a cold start
// serves a config at most this much older than the one served before.
const DefaultPersistEvery = time.Second

const (
	backoffBase = 200 * time.Millisecond
	backoffMax  = 15 * time.Second
	// maxSnapshotBytes lifts gRPC's 4 MiB default receive limit: a fleet's
	// whole config arrives as one message, and a limit hit here would
	// leave every edge unable to ever load it.
	maxSnapshotBytes = 256 << 20
	// maxDetailBytes bounds a NACK's error detail.
	maxDetailBytes = 4096
)

// Config says how to reach the control plane and where to keep the
// last good snapshot.
type Config struct {
	// Addr is the control plane's gRPC address (host:port, or any target
	// grpc.NewClient accepts).
	Addr string
	// Token authenticates the edge (sent as "authorization: Bearer"); the
	// on-disk snapshot's signing keys are encrypted under a key derived
	// from it.
	Token     string
	NodeID    string
	EdgeGroup string
	// DataDir holds snapshot.bin; empty disables persistence.
	DataDir string
	// PersistEvery bounds how often the config served is written to
	// DataDir: the first change after a quiet spell is written at once,
	// later ones at most this often (the last one wins), so a purge storm
	// does not rewrite a ten-thousand-tenant file per purge. A stream's end
	// writes what is pending. DefaultPersistEvery when 0; every change when
	// negative.
	PersistEvery time.Duration
	// TLS secures the stream; nil means plaintext.
	TLS *tls.Config
	// IdleTimeout overrides DefaultIdleTimeout when positive.
	IdleTimeout time.Duration
	// BackoffBase and BackoffMax bound the reconnect backoff when
	// positive; 200 ms and 15 s otherwise.
	BackoffBase, BackoffMax time.Duration
}

// Client keeps an edge subscribed to config snapshots.
type Client struct {
	cfg   Config
	apply ApplyFunc
	log   *slog.Logger

	// mu serialises applying, persisting and recording a snapshot, so
	// Restore and Run may overlap safely.
	mu         sync.Mutex
	hasApplied bool // distinguishes "applied v0" from "nothing applied"
	// state is the config served: the last snapshot applied, with each
	// account it refused at the version kept (effective), advanced in
	// place by deltas; it is what is persisted.
	state *configdelta.State
	// lastPersist is when current was last written; pending is the timer
	// of a write put off (PersistEvery).
	lastPersist time.Time
	pending     *time.Timer
	writeDue    bool // a write is to be made as soon as mu is released
	// writeMu orders writes; encoder (set on the first) is used under it.
	writeMu sync.Mutex
	encoder *snapshotEncoder

	applied   atomic.Uint64
	connected atomic.Bool

	// Tests shorten these.
	backoffBase, backoffMax time.Duration
}

// ApplyFunc validates a config, builds the routing table and makes it
// current: snap, a whole config, or d, a delta from the config applied
// before (snap is nil then: the table is rebuilt for what d touches
// alone). An error (sent back as the NACK detail) refuses
// the whole config; rejections name the resources it refused alone, each
// kept at its previous version while the rest applied (sent back in the
// ACK).
type ApplyFunc func(snap *configv1.Snapshot, d *configv1.Delta) ([]*configv1.Rejection, error)

// New returns a client. apply is called from one goroutine at a time.
func New(cfg Config, apply ApplyFunc, log *slog.Logger) *Client {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	c := &Client{
		cfg:         cfg,
		apply:       apply,
		log:         log.With("component", "configwatch", "addr", cfg.Addr, "node_id", cfg.NodeID),
		backoffBase: backoffBase,
		backoffMax:  backoffMax,
	}
	if cfg.BackoffBase > 0 {
		c.backoffBase = cfg.BackoffBase
	}
	if cfg.BackoffMax > 0 {
		c.backoffMax = max(cfg.BackoffMax, c.backoffBase)
	}
	return c
}

// Connected reports whether the control plane has answered on the current
// stream. It is false before the first message and after the stream ends.
func (c *Client) Connected() bool { return c.connected.Load() }

// AppliedVersion is the version of the config the edge serves (0 before
// any).
func (c *Client) AppliedVersion() uint64 { return c.applied.Load() }

// Restore applies the persisted snapshot, so an edge started while the
// control plane is down serves its last good config. It returns the
// version applied; errors are those of LoadPersisted, or apply's when the
// snapshot no longer validates. Call it before Run.
func (c *Client) Restore() (uint64, error) {
	snap, err := c.LoadPersisted()
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hasApplied && snap.GetVersion() <= c.applied.Load() {
		return c.applied.Load(), nil
	}
	rejected, err := c.safeApply(snap, nil)
	if err != nil {
		return 0, fmt.Errorf("apply persisted snapshot v%d: %w", snap.GetVersion(), err)
	}
	c.markApplied(snap.GetVersion())
	c.state = configdelta.NewState(snap)
	c.log.Info("restored config snapshot from disk", "version", snap.GetVersion(), "accounts", len(snap.GetAccounts()),
		"rejected", len(rejected))
	return snap.GetVersion(), nil
}

// Run dials the control plane and keeps a Watch stream open on that
// connection until ctx ends (see RunOn). It returns ctx's error, or an
// error straight away if the address or options cannot form a gRPC client
// at all. Call Run or RunOn once.
func (c *Client) Run(ctx context.Context) error {
	conn, err := c.Dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	return c.RunOn(ctx, conn)
}

// RunOn keeps a Watch stream open on conn until ctx ends, reconnecting
// after any failure with full-jitter exponential backoff that resets once a
// stream has been healthy. It returns ctx's error. conn normally comes from
// Dial and may carry other calls too (usage reports share it).
func (c *Client) RunOn(ctx context.Context, conn grpc.ClientConnInterface) error {
	cl := configv1.NewConfigServiceClient(conn)
	defer c.Flush()

	ceiling := c.backoffBase
	for {
		healthy, err := c.watch(ctx, cl)
		c.connected.Store(false)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if healthy {
			ceiling = c.backoffBase
		}
		wait := rand.N(ceiling) + 1
		c.logStreamEnd(err, healthy, wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		ceiling = min(ceiling*2, c.backoffMax)
	}
}

// Dial returns a connection to the control plane as Config describes it:
// TLS when configured, the edge token on every call, and a reconnect
// backoff matched to the stream's. gRPC connects lazily, so this does not
// fail when the control plane is down.
func (c *Client) Dial() (*grpc.ClientConn, error) {
	creds := insecure.NewCredentials()
	if c.cfg.TLS != nil {
		creds = credentials.NewTLS(c.cfg.TLS)
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxSnapshotBytes)),
		// Match gRPC's own reconnect backoff to Run's, so a control plane
		// that comes back is found within one of Run's intervals rather
		// than after gRPC's default of up to two minutes.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{
				BaseDelay:  c.backoffBase,
				Multiplier: 2,
				Jitter:     0.2,
				MaxDelay:   c.backoffMax,
			},
			MinConnectTimeout: 5 * time.Second,
		}),
	}
	if c.cfg.Token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearerToken{token: c.cfg.Token, requireTLS: c.cfg.TLS != nil}))
	}
	conn, err := grpc.NewClient(c.cfg.Addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("config client for %q: %w", c.cfg.Addr, err)
	}
	return conn, nil
}

var errIdle = errors.New("no message from the control plane within the idle timeout")

// watch runs one stream until it fails. healthy reports whether the
// control plane answered at all, which is what resets the backoff: a
// server that refuses every stream keeps the client backing off.
func (c *Client) watch(ctx context.Context, cl configv1.ConfigServiceClient) (healthy bool, err error) {
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	idle := time.AfterFunc(c.cfg.IdleTimeout, func() { cancel(errIdle) })
	defer idle.Stop()
	// The idle cause is more useful than the Canceled status it produces.
	defer func() {
		if err != nil && errors.Is(context.Cause(sctx), errIdle) {
			err = errIdle
		}
	}()

	stream, err := cl.Watch(sctx)
	if err != nil {
		return false, fmt.Errorf("open watch stream: %w", err)
	}
	hello := &configv1.Hello{
		NodeId:            c.cfg.NodeID,
		EdgeGroup:         c.cfg.EdgeGroup,
		CapabilityVersion: CapabilityVersion,
		AppliedVersion:    c.applied.Load(),
	}
	if err := send(stream, &configv1.WatchRequest{Kind: &configv1.WatchRequest_Hello{Hello: hello}}); err != nil {
		return false, fmt.Errorf("send hello: %w", err)
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			return healthy, fmt.Errorf("receive: %w", err)
		}
		// Handling a snapshot (validation, fsync) is not silence on the
		// wire; pause the idle clock meanwhile.
		idle.Stop()
		if !healthy {
			healthy = true
			c.connected.Store(true)
			c.log.Info("config stream connected", "applied_version", c.applied.Load())
		}
		switch k := resp.GetKind().(type) {
		case *configv1.WatchResponse_Snapshot:
			ack := c.handleSnapshot(resp.GetNonce(), k.Snapshot)
			if err := send(stream, &configv1.WatchRequest{Kind: &configv1.WatchRequest_Ack{Ack: ack}}); err != nil {
				return healthy, fmt.Errorf("send ack for v%d: %w", ack.GetVersion(), err)
			}
		case *configv1.WatchResponse_Delta:
			ack := c.handleDelta(resp.GetNonce(), k.Delta)
			if err := send(stream, &configv1.WatchRequest{Kind: &configv1.WatchRequest_Ack{Ack: ack}}); err != nil {
				return healthy, fmt.Errorf("send ack for v%d: %w", ack.GetVersion(), err)
			}
		case *configv1.WatchResponse_Keepalive:
		default:
			// A newer control plane may add kinds; it must not break the
			// stream of an older edge.
			c.log.Warn("ignoring unknown watch response", "nonce", resp.GetNonce())
		}
		idle.Reset(c.cfg.IdleTimeout)
	}
}

// send returns the stream's real status when Send fails: gRPC reports a
// stream the server already closed as io.EOF and keeps the reason for Recv.
func send(stream grpc.BidiStreamingClient[configv1.WatchRequest, configv1.WatchResponse], req *configv1.WatchRequest) error {
	err := stream.Send(req)
	if errors.Is(err, io.EOF) {
		if _, rerr := stream.Recv(); rerr != nil {
			return rerr
		}
	}
	return err
}

// handleSnapshot applies a snapshot if it is newer than the applied one
// and returns the ACK or NACK for it. An older or equal version is not
// reapplied, but still answered, so the control plane can record what the
// edge serves.
func (c *Client) handleSnapshot(nonce string, snap *configv1.Snapshot) *configv1.Ack {
	c.mu.Lock()
	ack := c.handleSnapshotLocked(nonce, snap)
	c.mu.Unlock()
	c.writeIfDue()
	return ack
}

func (c *Client) handleSnapshotLocked(nonce string, snap *configv1.Snapshot) *configv1.Ack {
	v := snap.GetVersion()
	ack := &configv1.Ack{Version: v, Nonce: nonce}
	cur := c.applied.Load()
	switch {
	case snap == nil:
		ack.ErrorDetail = "watch response carries an empty snapshot"
		c.log.Error("rejected config snapshot", "nonce", nonce, "error", ack.ErrorDetail)
	case c.hasApplied && v < cur:
		c.log.Warn("ignoring config snapshot older than the applied one", "version", v, "applied_version", cur, "nonce", nonce)
	case c.hasApplied && v == cur:
		c.log.Debug("config snapshot already applied", "version", v, "nonce", nonce)
	default:
		c.applyLocked(ack, snap, nil, nonce)
	}
	ack.AppliedVersion = c.applied.Load()
	return ack
}

// handleDelta applies a delta on top of the config served, when it starts
// at that config's version, and returns the ACK or NACK for it. A delta
// from another version is NACKed: the control plane then sends the
// version whole.
func (c *Client) handleDelta(nonce string, d *configv1.Delta) *configv1.Ack {
	c.mu.Lock()
	ack := c.handleDeltaLocked(nonce, d)
	c.mu.Unlock()
	c.writeIfDue()
	return ack
}

func (c *Client) handleDeltaLocked(nonce string, d *configv1.Delta) *configv1.Ack {
	v, cur := d.GetVersion(), c.applied.Load()
	ack := &configv1.Ack{Version: v, Nonce: nonce}
	switch {
	case c.hasApplied && v == cur:
		c.log.Debug("config delta already applied", "version", v, "nonce", nonce)
	case c.state == nil:
		ack.ErrorDetail = fmt.Sprintf("delta from v%d: this edge holds no config to apply it to", d.GetFromVersion())
	case d.GetFromVersion() != c.state.Version():
		ack.ErrorDetail = fmt.Sprintf("delta from v%d does not apply to v%d", d.GetFromVersion(), c.state.Version())
		c.log.Warn("refused a config delta; the control plane sends the version whole", "version", v,
			"applied_version", cur, "nonce", nonce, "error", ack.ErrorDetail)
	default:
		c.applyLocked(ack, nil, d, nonce)
	}
	ack.AppliedVersion = c.applied.Load()
	return ack
}

// applyLocked applies snap (received whole, or made from a delta), fills
// in ack, and persists what is served. c.mu is held.
// A delta (snap nil) advances the state in place.
func (c *Client) applyLocked(ack *configv1.Ack, snap *configv1.Snapshot, d *configv1.Delta, nonce string) {
	v, cur, how, accounts := snap.GetVersion(), c.applied.Load(), "snapshot", len(snap.GetAccounts())
	if d != nil {
		v, how, accounts = d.GetVersion(), "delta", len(d.GetAccounts())
	}
	rejected, err := c.safeApply(snap, d)
	if err != nil {
		ack.ErrorDetail = nackDetail(err)
		c.log.Error("rejected config "+how+", keeping the previous one",
			"version", v, "applied_version", cur, "nonce", nonce, "error", err)
		return
	}
	c.markApplied(v)
	c.log.Info("applied config "+how, "version", v, "previous_version", cur,
		"accounts", accounts, "rejected", len(rejected))
	for _, r := range rejected {
		r.ErrorDetail = strings.ToValidUTF8(truncate(r.ErrorDetail, maxDetailBytes/4), "\uFFFD")
		c.log.Error("rejected an account of the config, keeping its previous version",
			"version", v, "resource", r.Resource, "error", r.ErrorDetail)
	}
	ack.Rejected = rejected
	if d == nil {
		c.state = configdelta.NewState(c.effective(snap, rejected))
	} else if err := c.state.Advance(d, refusedIn(rejected)); err != nil {
		// The version was checked before the table was built.
		c.log.Error("config delta applied to the table but not to the persisted state", "version", v, "error", err)
	}
	c.persistLocked()
}

// persistLocked has the config served written now (by writeIfDue, once
// c.mu is released), or soon (PersistEvery). c.mu is held. The table is
// already serving, so a disk failure does not turn the ACK into a NACK; it
// only weakens the next cold start.
func (c *Client) persistLocked() {
	every := c.cfg.PersistEvery
	if every == 0 {
		every = DefaultPersistEvery
	}
	wait := every - time.Since(c.lastPersist)
	switch {
	case every < 0 || wait <= 0:
		c.writeDue = true
	case c.pending == nil:
		c.pending = time.AfterFunc(wait, func() { c.write(true) })
	}
}

// writeIfDue makes the write persistLocked asked for, before the ACK goes:
// a config written at once is on disk when the control plane hears of it.
func (c *Client) writeIfDue() {
	c.mu.Lock()
	due := c.writeDue
	c.mu.Unlock()
	if due {
		c.write(false)
	}
}

// Flush writes a config whose write was put off. Run calls it when it
// ends; call it before exiting otherwise.
func (c *Client) Flush() { c.write(true) }

// write persists the config served; when onlyPutOff, only if a write was
// put off. The config is taken under c.mu, but encoded and written under
// writeMu alone: a write of ten thousand tenants must not hold up the
// next config's apply. writeMu also keeps writes in order, so an older
// config never replaces a newer one on disk.
func (c *Client) write(onlyPutOff bool) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.mu.Lock()
	if (onlyPutOff && c.pending == nil) || c.state == nil {
		c.mu.Unlock()
		return
	}
	if c.pending != nil {
		c.pending.Stop()
		c.pending = nil
	}
	c.writeDue = false
	c.lastPersist = time.Now()
	snap := c.state.Snapshot(c.lastPersist)
	c.mu.Unlock()
	if err := c.persist(snap); err != nil {
		c.log.Error("could not persist config snapshot", "version", snap.GetVersion(), "error", err)
	}
}

// safeApply turns a panic in apply into an error: a snapshot is input from
// the network, and a bug its contents trigger must cost a NACK, not the
// process.
func (c *Client) safeApply(snap *configv1.Snapshot, d *configv1.Delta) (rejected []*configv1.Rejection, err error) {
	defer func() {
		if r := recover(); r != nil {
			rejected, err = nil, panics.Recovered(c.log.With("version", snap.GetVersion()), panics.ConfigApply, r)
		}
	}()
	return c.apply(snap, d)
}

func (c *Client) markApplied(v uint64) {
	c.applied.Store(v)
	c.hasApplied = true
}

// nackDetail makes an error fit for the Ack message: bounded, and valid
// UTF-8, since proto3 refuses to marshal a string that is not, which would
// break the stream instead of delivering the NACK.
func nackDetail(err error) string {
	return strings.ToValidUTF8(truncate(err.Error(), maxDetailBytes), "\uFFFD")
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func (c *Client) logStreamEnd(err error, healthy bool, wait time.Duration) {
	attrs := []any{"error", err, "retry_in", wait.Round(time.Millisecond), "applied_version", c.applied.Load()}
	switch status.Code(err) {
	case codes.Unauthenticated, codes.PermissionDenied:
		c.log.Error("control plane refused the config stream: check the edge token", attrs...)
	default:
		if healthy {
			c.log.Warn("config stream lost, reconnecting", attrs...)
		} else {
			c.log.Warn("cannot reach control plane config stream", attrs...)
		}
	}
}

// bearerToken sends the edge token with every RPC.
type bearerToken struct {
	token      string
	requireTLS bool
}

func (b bearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.token}, nil
}

// RequireTransportSecurity keeps a TLS-configured client from ever falling
// back to sending the token in the clear.
func (b bearerToken) RequireTransportSecurity() bool { return b.requireTLS }

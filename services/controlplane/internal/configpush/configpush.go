// Package configpush serves the ConfigService Watch stream that keeps every
// edge on the current configuration (DESIGN §9). It learns of new config
// versions from Postgres (LISTEN, plus a slow poll in case a notification
// is lost), builds each version's snapshot once, and fans it out to every
// connected edge through an in-process broadcaster. Each stream records
// the edge's state (connected, ACKed and NACKed versions) in edge_nodes.
//
// The protocol, as the server keeps it:
//   - One version for the whole configuration, purge rules included. An
//     edge whose Hello says it applies deltas (capability_version >= 2) is
//     sent the whole snapshot only on first connect, or when this replica
//     cannot resume from its version; otherwise only what changed since the
//     version it holds (configdelta: the accounts that changed, whole; the
//     accounts removed; the purge rules issued), so the bytes a change
//     costs follow the change, not the fleet's total state. The replica
//     keeps the deltas of its last MaxDeltas published versions: an edge
//     that reconnects after missing many changes resumes with one composed
//     delta. A refused delta (another base, or a bad account) brings the
//     version whole. Older edges get whole snapshots.
//   - A Hello is answered at once: with the newest snapshot when the edge is
//     behind, else with a keepalive carrying the current version. Later,
//     each new version is sent once (never a version the stream already
//     sent, so a NACKed one is not retried on that stream) and keepalives
//     fill silences.
//   - Every response has a nonce; an ACK or NACK counts only when it
//     answers the stream's last snapshot. The edge's applied version comes
//     from its answers, not from what was sent.
//   - An edge ahead of the database (restored from a backup) would ignore
//     the database's older versions, so the version is moved past the
//     edge's (Store.AdvanceVersion) instead of sending it backwards.
//   - Bookkeeping writes run beside the stream, in order, so a slow database
//     never delays a push (bookkeeping).
//   - Every call carries the edge token (tokenAuth); the stream runs over
//     TLS when the control plane has a certificate (ServerTLS), since it
//     carries signing keys.
package configpush

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	configv1 "pictor/proto/pictor/config/v1"
	"pictor/services/controlplane/internal/tenant"
	"pictor/services/internal/configdelta"
	"pictor/services/internal/errkind"
)

// Store is what the config service needs from the database.
type Store interface {
	CurrentVersion(ctx context.Context) (uint64, error)
	// ListenVersions reports announced versions until ctx ends (0: unknown).
	ListenVersions(ctx context.Context, notify func(version uint64))
	EdgeConnected(ctx context.Context, n tenant.EdgeNode) error
	EdgeAcked(ctx context.Context, a tenant.EdgeAck) error
	EdgeSeen(ctx context.Context, nodeID, session string) error
	EdgeDisconnected(ctx context.Context, nodeID, session string) error
	// AdvanceVersion moves the version past `past` without changing the
	// config (announcing it), counting every account as changed, and
	// returns the version in force.
	AdvanceVersion(ctx context.Context, past uint64) (uint64, error)
	// AccountsChangedSince lists the accounts changed after version v,
	// deleted ones included.
	AccountsChangedSince(ctx context.Context, v uint64) ([]string, error)
}

// Builder builds the snapshot of the current version: whole, or from an
// earlier snapshot it made by reading only what changed since.
type Builder interface {
	Build(ctx context.Context) (*configv1.Snapshot, error)
	BuildFrom(ctx context.Context, prev *configv1.Snapshot) (*configv1.Snapshot, error)
}

// Options tune the server; zero values take the defaults.
type Options struct {
	Keepalive time.Duration // between keepalives on an idle stream; 15 s
	Poll      time.Duration // between version polls; 5 s
	// FullEvery is how often a version is built whole rather than from the
	// previous one (a safety net under the change tracking); 10 min when 0.
	FullEvery time.Duration
	// Batch is how long a notified version waits before it is read, so a
	// burst of writes (an import, a purge storm) becomes one push per edge
	// rather than one per write; DefaultBatch when 0, none when < 0.
	Batch        time.Duration
	HelloTimeout time.Duration // for an edge to say Hello; 10 s
	// ReplicaID names this control-plane process in edge_nodes;
	// hostname/pid by default.
	ReplicaID string
}

// Stats is what metrics read of the streams.
type Stats struct {
	Streams int    // Watch streams past their Hello
	Version uint64 // the version this replica publishes; 0 before the first
	// Lag is each connected edge's published version minus its applied
	// one (0 when it is current or ahead); an edge with two streams
	// (a reconnect overlapping the old one) counts its larger lag.
	Lag map[string]uint64
	// SentBytes counts the config (snapshots and deltas) sent on every
	// stream since start.
	SentBytes uint64
}

// Stats reads the streams without touching the database.
func (s *Server) Stats() Stats {
	var st Stats
	if snap := s.hub.current().snap; snap != nil {
		st.Version = snap.Version
	}
	st.Lag = make(map[string]uint64)
	st.SentBytes = s.sentBytes.Load()
	s.live.Range(func(k, _ any) bool {
		ss := k.(*streamState)
		st.Streams++
		var lag uint64
		if a := ss.applied.Load(); a < st.Version {
			lag = st.Version - a
		}
		st.Lag[ss.nodeID] = max(st.Lag[ss.nodeID], lag)
		return true
	})
	return st
}

// Server implements configv1.ConfigServiceServer.
type Server struct {
	configv1.UnimplementedConfigServiceServer

	store   Store
	builder Builder
	log     *slog.Logger
	opts    Options
	hub     hub
	streams atomic.Uint64 // numbers stream sessions
	kick    chan struct{} // asks Run for an early refresh
	live    sync.Map      // *streamState -> struct{}: streams past their Hello (Stats)

	closeOnce sync.Once
	closing   chan struct{}
	sentBytes atomic.Uint64 // config bytes sent on every stream (Stats)
	lastFull  time.Time     // of the last whole build (Run's goroutine only)
}

// New returns a server; call Run to start following config versions.
func New(store Store, builder Builder, log *slog.Logger, opts Options) *Server {
	if opts.Keepalive <= 0 {
		opts.Keepalive = 15 * time.Second
	}
	if opts.FullEvery <= 0 {
		opts.FullEvery = 10 * time.Minute
	}
	if opts.Batch == 0 {
		opts.Batch = DefaultBatch
	}
	if opts.Poll <= 0 {
		opts.Poll = 5 * time.Second
	}
	if opts.HelloTimeout <= 0 {
		opts.HelloTimeout = 10 * time.Second
	}
	if opts.ReplicaID == "" {
		host, _ := os.Hostname()
		opts.ReplicaID = host + "/" + strconv.Itoa(os.Getpid())
	}
	return &Server{
		store:   store,
		builder: builder,
		log:     log,
		opts:    opts,
		hub:     hub{changed: make(chan struct{})},
		kick:    make(chan struct{}, 1),
		closing: make(chan struct{}),
	}
}

// Run follows the config version until ctx ends, publishing a snapshot for
// each new version to the streams.
func (s *Server) Run(ctx context.Context) {
	go s.store.ListenVersions(ctx, func(v uint64) {
		if st := s.hub.current(); st.snap != nil && v == st.snap.Version {
			return
		}
		s.requestRefresh()
	})
	poll := time.NewTicker(s.opts.Poll)
	defer poll.Stop()
	for {
		s.refresh(ctx)
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
			if s.opts.Batch > 0 {
				// Writes landing meanwhile join this version.
				select {
				case <-ctx.Done():
					return
				case <-time.After(s.opts.Batch):
				}
			}
		case <-poll.C:
		}
	}
}

// DefaultBatch is the write batching window: long enough to gather a burst
// of API writes (a few ms each), short next to the 200 ms propagation
// target.
const DefaultBatch = 20 * time.Millisecond

// requestRefresh asks Run to read the version now.
func (s *Server) requestRefresh() {
	select {
	case s.kick <- struct{}{}:
	default: // a refresh is already due; it reads the latest version
	}
}

// refresh publishes a snapshot when the stored version differs from the
// published one. A version lower than the published one means the database
// was restored or replaced; edges must follow it, so it is published too.
func (s *Server) refresh(ctx context.Context) {
	v, err := s.store.CurrentVersion(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("read config version", "err", err)
		}
		return
	}
	cur := s.hub.current().snap
	if cur != nil && v == cur.Version {
		s.hub.confirm()
		return
	}
	start := time.Now()
	snap, whole, err := s.build(ctx, cur, v)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("build config snapshot", "version", v, "err", err)
		}
		return
	}
	if cur != nil && snap.Version < cur.Version {
		s.log.Warn("config version went backwards (database restored?); publishing it",
			"version", snap.Version, "previous_version", cur.Version)
	}
	s.hub.publish(snap)
	s.log.Info("config snapshot published", "version", snap.Version, "whole", whole,
		"accounts", len(snap.Accounts), "build_ms", time.Since(start).Milliseconds())
}

// build makes the snapshot of version v: from cur, reading only what
// changed, when cur is an earlier version and the last whole build is
// recent; whole otherwise, or when the incremental build fails.
func (s *Server) build(ctx context.Context, cur *configv1.Snapshot, v uint64) (*configv1.Snapshot, bool, error) {
	if cur != nil && v > cur.Version && time.Since(s.lastFull) < s.opts.FullEvery {
		snap, err := s.builder.BuildFrom(ctx, cur)
		if err == nil {
			return snap, false, nil
		}
		if ctx.Err() != nil {
			return nil, false, err
		}
		s.log.Warn("build config snapshot from the previous one; building it whole", "version", v, "err", err)
	}
	snap, err := s.builder.Build(ctx)
	if err == nil {
		s.lastFull = time.Now()
	}
	return snap, true, err
}

// Close ends every Watch stream with Unavailable, so edges reconnect to
// another replica, and lets grpc.Server.GracefulStop finish.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
}

// hub holds the latest snapshot and the deltas that led to it, and wakes
// streams when it changes or is confirmed current.
type hub struct {
	mu      sync.Mutex
	state   hubState
	changed chan struct{} // closed on the next publish or confirm
	// deltas are the last MaxDeltas published versions' deltas, oldest
	// first, each from the version published before it: an edge that
	// holds any of their from_versions resumes from there.
	deltas []*configv1.Delta
}

// MaxDeltas bounds the deltas a replica keeps: an edge further behind is
// sent a whole snapshot.
const MaxDeltas = 4096

type hubState struct {
	snap *configv1.Snapshot
	// checks counts completed version reads (publishes included); a
	// stream compares it with its value at Hello to know whether the
	// database has been read since.
	checks  uint64
	changed <-chan struct{}
}

func (h *hub) current() hubState {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.state
	st.changed = h.changed
	return st
}

// publish makes snap current. Only Run's goroutine publishes, so the
// delta from the previous snapshot is computed outside the lock.
func (h *hub) publish(snap *configv1.Snapshot) {
	var d *configv1.Delta
	if prev := h.current().snap; prev != nil && snap.Version > prev.Version {
		d = configdelta.Diff(prev, snap)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case d == nil:
		h.deltas = nil // a first or a restored (older) version: nothing to resume from
	case len(h.deltas) == MaxDeltas:
		h.deltas = append(slices.Delete(h.deltas, 0, MaxDeltas/4), d)
	default:
		h.deltas = append(h.deltas, d)
	}
	h.state.snap = snap
	h.state.checks++
	h.wake()
}

// deltaFrom is the delta from version from to the published version to,
// composed from the kept ones; nil when from is not among them.
func (h *hub) deltaFrom(from, to uint64) *configv1.Delta {
	h.mu.Lock()
	defer h.mu.Unlock()
	i := slices.IndexFunc(h.deltas, func(d *configv1.Delta) bool { return d.FromVersion == from })
	if i < 0 {
		return nil
	}
	j := slices.IndexFunc(h.deltas[i:], func(d *configv1.Delta) bool { return d.Version == to })
	if j < 0 {
		return nil
	}
	d, err := configdelta.Compose(h.deltas[i : i+j+1])
	if err != nil {
		return nil
	}
	return d
}

func (h *hub) confirm() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.state.checks++
	h.wake()
}

func (h *hub) wake() {
	close(h.changed)
	h.changed = make(chan struct{})
}

const (
	maxNodeIDLen    = 128
	maxEdgeGroupLen = 64
)

// Watch implements configv1.ConfigServiceServer.
func (s *Server) Watch(stream configv1.ConfigService_WatchServer) error {
	ctx := stream.Context()
	log := s.log
	if p, ok := peer.FromContext(ctx); ok {
		log = log.With("peer", p.Addr.String())
	}

	// Recv blocks; a goroutine feeds it to the loop below, which is the
	// stream's only sender.
	recv := make(chan *configv1.WatchRequest)
	recvErr := make(chan error, 1)
	go func() {
		for {
			m, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			select {
			case recv <- m:
			case <-ctx.Done():
				return
			}
		}
	}()

	var hello *configv1.Hello
	timer := time.NewTimer(s.opts.HelloTimeout)
	select {
	case m := <-recv:
		timer.Stop()
		if hello = m.GetHello(); hello == nil {
			return status.Error(codes.InvalidArgument, "the first message must be a Hello")
		}
	case err := <-recvErr:
		return recvStatus(err)
	case <-timer.C:
		return status.Error(codes.DeadlineExceeded, "no Hello received")
	case <-s.closing:
		return status.Error(codes.Unavailable, "control plane shutting down")
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	}
	if err := checkHello(hello); err != nil {
		return err
	}

	st := &streamState{
		Server:      s,
		stream:      stream,
		nodeID:      hello.NodeId,
		session:     s.opts.ReplicaID + "#" + strconv.FormatUint(s.streams.Add(1), 10),
		have:        hello.AppliedVersion,
		helloChecks: s.hub.current().checks,
		deltas:      hello.CapabilityVersion >= DeltaCapability,
	}
	st.applied.Store(hello.AppliedVersion)
	st.log = log.With("node_id", st.nodeID, "session", st.session)
	st.book = startBookkeeping(st.log)
	st.log.Info("edge connected", "edge_group", hello.EdgeGroup,
		"applied_version", hello.AppliedVersion, "capability_version", hello.CapabilityVersion)
	st.record("record edge connect", func(ctx context.Context) error {
		return s.store.EdgeConnected(ctx, tenant.EdgeNode{
			NodeID: st.nodeID, EdgeGroup: hello.EdgeGroup, AppliedVersion: hello.AppliedVersion, Session: st.session,
		})
	})
	defer func() {
		st.book.finish("record edge disconnect", func(ctx context.Context) error {
			return s.store.EdgeDisconnected(ctx, st.nodeID, st.session)
		})
		st.log.Info("edge disconnected")
	}()
	s.live.Store(st, struct{}{})
	defer s.live.Delete(st) // runs first: gone from Stats before the disconnect is recorded
	return st.loop(ctx, recv, recvErr)
}

// record queues a bookkeeping write (see bookkeeping).
func (st *streamState) record(what string, write func(context.Context) error) {
	st.book.add(what, write)
}

// streamState is one edge's stream after its Hello.
type streamState struct {
	*Server
	stream  configv1.ConfigService_WatchServer
	log     *slog.Logger
	book    *bookkeeping
	nodeID  string
	session string

	have    uint64        // the version the edge says it serves
	applied atomic.Uint64 // have, for Stats on other goroutines
	sent    uint64        // the version last sent to it
	// deltas: the edge applies Delta responses (capability 2). inFlight:
	// the last config sent is not answered yet, so the edge will hold it
	// (the base of the next delta). full: a delta was refused; send whole
	// snapshots until one is acknowledged.
	deltas, inFlight, full bool
	lastWasDelta           bool
	helloChecks            uint64 // hub checks at Hello
	nonces                 uint64
	lastNonce              string // nonce of the last snapshot sent; other ACKs are stale
	advancedAt             uint64 // hub checks at the last AdvanceVersion attempt
}

// advancePast moves the database's version past the edge's (see loop).
func (st *streamState) advancePast(dbVersion uint64) {
	st.log.Warn("edge is ahead of the database (restored or replaced?); moving the config version past the edge's",
		"edge_version", st.have, "database_version", dbVersion)
	st.record("advance config version", func(ctx context.Context) error {
		v, err := st.store.AdvanceVersion(ctx, st.have)
		if err == nil {
			st.log.Info("config version advanced; the database's config follows under it", "version", v)
		}
		return err
	})
}

func (st *streamState) loop(ctx context.Context, recv <-chan *configv1.WatchRequest, recvErr <-chan error) error {
	keepalive := time.NewTicker(st.opts.Keepalive)
	defer keepalive.Stop()
	for {
		hs := st.hub.current()
		snap := hs.snap
		switch {
		case snap == nil || snap.Version == st.sent || snap.Version == st.have:
			// Nothing new: never resend a version, even one the edge
			// rejected (it would only reject it again).
		case snap.Version > st.have:
			if err := st.sendSnapshot(snap); err != nil {
				return err
			}
		// The edge is ahead of what this replica published. Usually the
		// replica lags a write another replica already served: ask for a
		// refresh and wait for it to catch up. Only when a version read
		// made after the Hello (two checks on: one may have been under
		// way) still finds the database behind was it restored or
		// replaced. The database is the truth then, but an edge ignores
		// versions older than its own, so move the database's version
		// past the edge's: the next snapshot carries the database's
		// config under a version every edge applies. One attempt per
		// version read, so a failing database is retried at poll pace.
		case hs.checks >= st.helloChecks+2:
			if hs.checks != st.advancedAt {
				st.advancedAt = hs.checks
				st.advancePast(snap.Version)
			}
		default:
			st.requestRefresh()
		}
		// Answer every Hello at once, with a keepalive when there is no
		// snapshot to send: an edge that is already current learns that
		// the stream is live (it reports itself connected, and its idle
		// watchdog starts) without waiting a keepalive period.
		if st.nonces == 0 {
			if err := st.sendKeepalive(snap); err != nil {
				return err
			}
		}
		select {
		case <-hs.changed:
		case m := <-recv:
			if err := st.handle(m); err != nil {
				return err
			}
		case err := <-recvErr:
			return recvStatus(err)
		case <-keepalive.C:
			if err := st.sendKeepalive(snap); err != nil {
				return err
			}
			st.record("record edge seen", func(ctx context.Context) error {
				return st.store.EdgeSeen(ctx, st.nodeID, st.session)
			})
		case <-st.closing:
			return status.Error(codes.Unavailable, "control plane shutting down")
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		}
	}
}

func (st *streamState) sendKeepalive(snap *configv1.Snapshot) error {
	var v uint64
	if snap != nil {
		v = snap.Version
	}
	return st.send(&configv1.WatchResponse{
		Kind: &configv1.WatchResponse_Keepalive{Keepalive: &configv1.Keepalive{CurrentVersion: v}},
	})
}

// DeltaCapability is the Hello.capability_version from which an edge is
// sent deltas.
const DeltaCapability = 2

// sendSnapshot sends the edge snap's version: as a delta from the version
// the edge will hold when it can, else whole.
func (st *streamState) sendSnapshot(snap *configv1.Snapshot) error {
	base := st.have
	if st.inFlight {
		base = st.sent
	}
	resp := &configv1.WatchResponse{Kind: &configv1.WatchResponse_Snapshot{Snapshot: snap}}
	delta := false
	if st.deltas && !st.full && base > 0 && base < snap.Version {
		d := st.hub.deltaFrom(base, snap.Version)
		if d == nil {
			d = st.deltaFromStore(base, snap)
		}
		if d != nil {
			resp.Kind, delta = &configv1.WatchResponse_Delta{Delta: d}, true
		}
	}
	// Counted before it goes, so that whoever sees it arrive sees it counted.
	size := proto.Size(resp)
	st.Server.sentBytes.Add(uint64(size))
	if err := st.send(resp); err != nil {
		return err
	}
	st.lastNonce = resp.Nonce
	st.sent, st.inFlight, st.lastWasDelta = snap.Version, true, delta
	st.log.Debug("config sent", "version", snap.Version, "edge_version", st.have, "delta", delta, "bytes", size)
	return nil
}

// deltaFromStore is the delta from version base to snap made with the
// database's record of which accounts changed since base: how an edge
// resumes on a replica that never published its version (one started
// since, or one whose batching skipped it). The accounts come from snap,
// so the delta ends exactly at snap; an account changed after snap is
// sent as snap has it, which the edge already holds. nil when the
// database cannot say, and the edge gets the version whole.
func (st *streamState) deltaFromStore(base uint64, snap *configv1.Snapshot) *configv1.Delta {
	ctx, cancel := context.WithTimeout(context.Background(), storeDeltaTimeout)
	defer cancel()
	changed, err := st.store.AccountsChangedSince(ctx, base)
	if err != nil {
		st.log.Warn("cannot resume the edge from the database; sending the config whole", "edge_version", base, "err", err)
		return nil
	}
	return configdelta.Since(base, snap, changed)
}

// storeDeltaTimeout bounds the query behind a resume from the database.
const storeDeltaTimeout = 2 * time.Second

// send stamps resp with the next nonce and sends it.
func (st *streamState) send(resp *configv1.WatchResponse) error {
	st.nonces++
	resp.Nonce = strconv.FormatUint(st.nonces, 10)
	if err := st.stream.Send(resp); err != nil {
		return fmt.Errorf("send to edge %s: %w", st.nodeID, err)
	}
	return nil
}

func (st *streamState) handle(m *configv1.WatchRequest) error {
	ack := m.GetAck()
	if ack == nil {
		return status.Error(codes.InvalidArgument, "only the first message may be a Hello")
	}
	if ack.Nonce != st.lastNonce || st.lastNonce == "" {
		st.log.Debug("stale ack ignored", "nonce", ack.Nonce, "version", ack.Version)
		return nil
	}
	var rejected []tenant.Rejection
	for _, r := range ack.Rejected {
		rejected = append(rejected, tenant.Rejection{Resource: r.GetResource(), ErrorDetail: r.GetErrorDetail()})
	}
	switch {
	case ack.ErrorDetail == "" && len(rejected) > 0:
		st.log.Warn("edge applied config without some accounts, kept at their previous version", "version", ack.Version,
			"applied_version", ack.AppliedVersion, "rejected", len(rejected), "first_rejected", rejected[0].Resource,
			"first_error_detail", rejected[0].ErrorDetail)
	case ack.ErrorDetail == "":
		st.log.Debug("edge acked config", "version", ack.Version, "applied_version", ack.AppliedVersion)
	default:
		st.log.Warn("edge rejected config", "version", ack.Version,
			"applied_version", ack.AppliedVersion, "error_detail", ack.ErrorDetail)
	}
	// After a NACK the edge keeps serving an older version.
	st.have = ack.AppliedVersion
	st.applied.Store(ack.AppliedVersion)
	st.inFlight = false
	switch {
	case ack.ErrorDetail != "" && st.lastWasDelta:
		// The delta did not apply (another base, or its content): the
		// version goes again, whole.
		st.full, st.sent = true, 0
	case ack.ErrorDetail == "" && !st.lastWasDelta:
		st.full = false
	}
	record := st.book.addLatest
	if ack.ErrorDetail != "" {
		record = st.book.add // every NACK is kept in the record
	}
	record("record edge ack", func(ctx context.Context) error {
		return st.store.EdgeAcked(ctx, tenant.EdgeAck{
			NodeID:         st.nodeID,
			Session:        st.session,
			Version:        ack.Version,
			AppliedVersion: ack.AppliedVersion,
			ErrorDetail:    ack.ErrorDetail,
			Rejected:       rejected,
		})
	})
	return nil
}

// checkHello refuses a Hello whose strings would be stored or logged
// unbounded or unprintable.
func checkHello(h *configv1.Hello) error {
	if h.NodeId == "" {
		return status.Error(codes.InvalidArgument, "hello.node_id is required")
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{{"node_id", h.NodeId, maxNodeIDLen}, {"edge_group", h.EdgeGroup, maxEdgeGroupLen}} {
		if len(f.v) > f.max {
			return status.Errorf(codes.InvalidArgument, "hello.%s is longer than %d bytes", f.name, f.max)
		}
		for _, r := range f.v {
			if !unicode.IsPrint(r) || unicode.IsSpace(r) {
				return status.Errorf(codes.InvalidArgument, "hello.%s must be printable without spaces", f.name)
			}
		}
	}
	return nil
}

// recvStatus turns the end of the edge's side of the stream into the
// handler's result: a clean half-close is a clean end.
func recvStatus(err error) error {
	if errors.Is(err, io.EOF) {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return statusOf(err)
}

// codeOf maps error kinds to gRPC codes; the one table for this transport.
var codeOf = map[errkind.Kind]codes.Code{
	errkind.Internal:      codes.Internal,
	errkind.Invalid:       codes.InvalidArgument,
	errkind.Unsupported:   codes.Unimplemented,
	errkind.Unauthorized:  codes.Unauthenticated,
	errkind.Forbidden:     codes.PermissionDenied,
	errkind.NotFound:      codes.NotFound,
	errkind.Conflict:      codes.AlreadyExists,
	errkind.TooLarge:      codes.ResourceExhausted,
	errkind.RateLimited:   codes.ResourceExhausted,
	errkind.Unavailable:   codes.Unavailable,
	errkind.Timeout:       codes.DeadlineExceeded,
	errkind.Unprocessable: codes.InvalidArgument,
}

// statusOf converts err to a gRPC status with a client-safe message.
func statusOf(err error) error {
	code, ok := codeOf[errkind.KindOf(err)]
	if !ok {
		code = codes.Internal
	}
	return status.Error(code, errkind.SafeMessage(err))
}

// ServerOptions returns the gRPC options the control plane's edge-facing
// server needs: edge-token authentication on every call, and keepalive
// settings that let edges ping an idle stream without being cut off.
func ServerOptions(edgeToken string, log *slog.Logger) []grpc.ServerOption {
	a := tokenAuth{token: edgeToken, log: log}
	return []grpc.ServerOption{
		grpc.ChainStreamInterceptor(a.stream),
		grpc.ChainUnaryInterceptor(a.unary),
		grpc.KeepaliveEnforcementPolicy(keepaliveEnforcement),
		grpc.KeepaliveParams(keepaliveParams),
		// Edges send Hellos, ACKs and usage counters: small messages.
		grpc.MaxRecvMsgSize(1 << 20),
	}
}

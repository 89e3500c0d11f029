// Package usage receives the edges' traffic reports (DESIGN §9) and adds
// them to the daily per-account totals the usage API serves.
//
// Reports are idempotent: each has an id the edge chose, the store records
// the id in the same transaction as the counters, and a report whose id is
// known is acknowledged without being added again. An edge retries a report
// until it is acknowledged, so a report is counted exactly once even when
// an acknowledgement is lost or the edge switches replicas mid-retry.
package usage

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"time"
	"unicode"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	usagev1 "pictor/proto/pictor/usage/v1"
	"pictor/services/controlplane/internal/tenant"
	"pictor/services/internal/errkind"
)

// Store is what ingest needs from the database.
type Store interface {
	// IngestUsage adds the report unless its id was counted before, and
	// reports whether it was.
	IngestUsage(ctx context.Context, r tenant.UsageReport) (duplicate bool, err error)
	// PruneUsageReports forgets report ids older than olderThan.
	PruneUsageReports(ctx context.Context, olderThan time.Duration) (int64, error)
}

// Limits on one report. An edge splits its counts into reports of at most
// 2000 rows; the slack is for future edges.
const (
	maxRows        = 5000
	maxReportIDLen = 64
	maxNodeIDLen   = 128
	maxAccountLen  = 64

	// Delivery errors are diagnostics: entries past these limits, or not
	// plausible, are skipped (and logged), never a reason to refuse the
	// report and lose its counters.
	maxErrors        = 2000
	maxErrorPathLen  = 2048
	maxErrorOrigins  = 32
	maxErrorTokenLen = 64
)

// Options tune the server; zero values take the defaults.
type Options struct {
	// Retention is how long a report id is remembered: longer than any
	// control-plane outage an edge keeps retrying through. 35 days.
	Retention time.Duration
	// PruneEvery is the period of forgetting old report ids. 1 hour.
	PruneEvery time.Duration
}

// Server implements usagev1.UsageServiceServer.
type Server struct {
	usagev1.UnimplementedUsageServiceServer

	store Store
	log   *slog.Logger
	opts  Options
	now   func() time.Time
}

// New returns a usage server; call Run to prune old report ids.
func New(store Store, log *slog.Logger, opts Options) *Server {
	if opts.Retention <= 0 {
		opts.Retention = 35 * 24 * time.Hour
	}
	if opts.PruneEvery <= 0 {
		opts.PruneEvery = time.Hour
	}
	return &Server{store: store, log: log.With("component", "usage"), opts: opts, now: time.Now}
}

// Report implements usagev1.UsageServiceServer.
func (s *Server) Report(ctx context.Context, req *usagev1.UsageReport) (*usagev1.ReportResponse, error) {
	r, skipped, err := s.parse(req)
	if skipped > 0 {
		s.log.Warn("usage report: skipped implausible delivery errors", "report_id", req.GetReportId(),
			"node_id", req.GetNodeId(), "skipped", skipped, "errors", len(req.GetErrors()))
	}
	if err != nil {
		// An edge drops a report refused as invalid; say why, loudly.
		s.log.Error("usage report refused", "report_id", req.GetReportId(), "node_id", req.GetNodeId(), "err", err)
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	dup, err := s.store.IngestUsage(ctx, r)
	if err != nil {
		s.log.Warn("usage report not ingested; the edge will retry it", "report_id", r.ID, "node_id", r.NodeID, "err", err)
		return nil, statusOf(err)
	}
	if dup {
		s.log.Info("usage report retried; already counted", "report_id", r.ID, "node_id", r.NodeID)
	} else {
		s.log.Debug("usage report ingested", "report_id", r.ID, "node_id", r.NodeID, "rows", len(r.Rows), "errors", len(r.Errors))
	}
	return &usagev1.ReportResponse{Duplicate: dup}, nil
}

// parse validates a report and converts it. Anything wrong with its
// counters is a bug on the edge that no retry fixes; delivery errors that
// are not plausible are skipped and counted instead.
func (s *Server) parse(req *usagev1.UsageReport) (r tenant.UsageReport, skipped int, err error) {
	r, err = s.parseCounters(req)
	if err != nil {
		return r, 0, err
	}
	r.Errors, skipped = s.parseErrors(req)
	return r, skipped, nil
}

// parseErrors converts the plausible delivery errors of a report.
func (s *Server) parseErrors(req *usagev1.UsageReport) ([]tenant.DeliveryError, int) {
	in := req.GetErrors()
	skipped := 0
	if len(in) > maxErrors {
		skipped = len(in) - maxErrors
		in = in[:maxErrors]
	}
	earliest := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	latest := s.now().Add(48 * time.Hour)
	out := make([]tenant.DeliveryError, 0, len(in))
	for _, e := range in {
		at := time.UnixMilli(e.GetUnixMs()).UTC()
		ok := checkToken("account_id", e.GetAccountId(), maxAccountLen) == nil &&
			checkToken("endpoint_id", e.GetEndpointId(), maxErrorTokenLen) == nil &&
			checkToken("reason", e.GetReason(), maxErrorTokenLen) == nil &&
			checkToken("path", e.GetPath(), maxErrorPathLen) == nil &&
			e.GetStatus() >= 400 && e.GetStatus() <= 599 &&
			len(e.GetOriginIds()) <= maxErrorOrigins &&
			!at.Before(earliest) && !at.After(latest)
		for _, id := range e.GetOriginIds() {
			ok = ok && checkToken("origin_ids", id, maxErrorTokenLen) == nil
		}
		if !ok {
			skipped++
			continue
		}
		out = append(out, tenant.DeliveryError{
			AccountID: e.GetAccountId(), EndpointID: e.GetEndpointId(), Path: e.GetPath(), Status: int(e.GetStatus()),
			Reason: e.GetReason(), OriginIDs: e.GetOriginIds(), OccurredAt: at, NodeID: req.GetNodeId(),
		})
	}
	return out, skipped
}

func (s *Server) parseCounters(req *usagev1.UsageReport) (tenant.UsageReport, error) {
	r := tenant.UsageReport{ID: req.GetReportId(), NodeID: req.GetNodeId()}
	if err := checkToken("report_id", r.ID, maxReportIDLen); err != nil {
		return r, err
	}
	if err := checkToken("node_id", r.NodeID, maxNodeIDLen); err != nil {
		return r, err
	}
	if n := len(req.GetUsage()); n > maxRows {
		return r, fmt.Errorf("%d usage rows, at most %d per report", n, maxRows)
	}
	// A day outside these bounds comes from a clock that is badly wrong;
	// storing it would put traffic on a day nobody looks at.
	earliest := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	latest := s.now().UTC().Add(48 * time.Hour)
	type key struct {
		account string
		day     time.Time
	}
	seen := make(map[key]bool, len(req.GetUsage()))
	r.Rows = make([]tenant.AccountUsage, 0, len(req.GetUsage()))
	for i, u := range req.GetUsage() {
		if err := checkToken("account_id", u.AccountId, maxAccountLen); err != nil {
			return r, fmt.Errorf("usage[%d]: %w", i, err)
		}
		day, err := time.Parse(time.DateOnly, u.Day)
		if err != nil || day.Before(earliest) || day.After(latest) {
			return r, fmt.Errorf("usage[%d]: day %q is not a plausible YYYY-MM-DD", i, u.Day)
		}
		k := key{u.AccountId, day}
		if seen[k] {
			return r, fmt.Errorf("usage[%d]: a second row for account %s on %s", i, u.AccountId, u.Day)
		}
		seen[k] = true
		row := tenant.AccountUsage{AccountID: u.AccountId, UsageDay: tenant.UsageDay{Day: day}}
		for _, f := range []struct {
			dst *int64
			v   uint64
		}{
			{&row.Requests, u.Requests}, {&row.BytesOut, u.BytesOut}, {&row.HitsL1, u.HitsL1},
			{&row.HitsL2, u.HitsL2}, {&row.Misses, u.Misses}, {&row.OriginFetches, u.OriginFetches},
			{&row.Transforms, u.Transforms}, {&row.Status4xx, u.Status_4Xx}, {&row.Status5xx, u.Status_5Xx},
		} {
			if f.v > math.MaxInt64 {
				return r, fmt.Errorf("usage[%d]: counter %d out of range", i, f.v)
			}
			*f.dst = int64(f.v)
		}
		r.Rows = append(r.Rows, row)
	}
	return r, nil
}

// checkToken accepts 1..max printable characters without spaces.
func checkToken(field, v string, max int) error {
	if v == "" || len(v) > max {
		return fmt.Errorf("%s must be 1 to %d bytes", field, max)
	}
	for _, c := range v {
		if !unicode.IsPrint(c) || unicode.IsSpace(c) {
			return fmt.Errorf("%s must be printable without spaces", field)
		}
	}
	return nil
}

// Run forgets report ids past their retention, every PruneEvery, until ctx
// ends. Every replica runs it; the deletes are idempotent.
func (s *Server) Run(ctx context.Context) {
	// Replicas started together should not prune at the same moment.
	wait := rand.N(s.opts.PruneEvery) + time.Minute
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = s.opts.PruneEvery
		n, err := s.store.PruneUsageReports(ctx, s.opts.Retention)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("prune usage report ids", "err", err, "pruned", n)
		case n > 0:
			s.log.Info("pruned old usage report ids", "pruned", n, "retention", s.opts.Retention.String())
		}
	}
}

// codeOf maps error kinds to gRPC codes. Everything but Invalid means
// "retry the same report": the database is down, busy or deadlocked.
var codeOf = map[errkind.Kind]codes.Code{
	errkind.Unavailable: codes.Unavailable,
	errkind.Timeout:     codes.DeadlineExceeded,
}

func statusOf(err error) error {
	code, ok := codeOf[errkind.KindOf(err)]
	if !ok {
		code = codes.Internal
	}
	return status.Error(code, errkind.SafeMessage(err))
}

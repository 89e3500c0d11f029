package usage

import (
	"hash/maphash"
	"slices"
	"sync"
	"time"
)

// Delivery errors are diagnostic data for the dashboard's "Not-found help"
// page, not billing: the meter keeps only the most recent few per account,
// drops what does not fit, and the reporter sends them along with the next
// report (see Reporter). Losing some under pressure is by design.
const (
	// MaxErrorsPerAccount is how many recent errors the meter (and a
	// reporter between two reports) keeps per account. Errors with the
	// same endpoint, path and status count once: the newest is kept.
	MaxErrorsPerAccount = 20
	// maxErrorAccounts bounds the accounts with errors kept between two
	// drains (a flood of 404s over many accounts must not grow memory);
	// errors of further accounts are dropped until the next drain.
	maxErrorAccounts = 4096
	// maxErrorPathLen truncates longer paths: the page shows a prefix
	// rather than nothing, and a report stays small.
	maxErrorPathLen = 1024
	// maxErrorOrigins bounds the origin ids kept with an error.
	maxErrorOrigins = 16
	errorShards     = 16
)

// IsReportedError reports whether a response with this status is a
// delivery failure worth showing to the customer: the image is missing
// (404), the source cannot be processed (422), the origin failed (502) or
// timed out (504). Client mistakes (400, 403, ...) and the edge's own
// troubles (500, 503) are not the customer's to fix on their origins.
func IsReportedError(status int) bool {
	switch status {
	case 404, 422, 502, 504:
		return true
	}
	return false
}

// DeliveryError is one recorded delivery failure.
type DeliveryError struct {
	AccountID  string
	EndpointID string
	Path       string
	Status     int
	Reason     string
	OriginIDs  []string
	At         time.Time
}

func (d DeliveryError) sameAs(o DeliveryError) bool {
	return d.Path == o.Path && d.Status == o.Status && d.EndpointID == o.EndpointID
}

// errorLog holds recent errors per account in shards picked by account,
// so recording takes one short lock that requests of other accounts rarely
// share; errors are rare next to responses.
type errorLog struct {
	seed   maphash.Seed
	shards [errorShards]errorShard
}

type errorShard struct {
	mu sync.Mutex
	m  map[string][]DeliveryError // oldest first, at most MaxErrorsPerAccount
	_  [128 - 16]byte
}

func (l *errorLog) init() {
	l.seed = maphash.MakeSeed()
	for i := range l.shards {
		l.shards[i].m = make(map[string][]DeliveryError)
	}
}

func (l *errorLog) record(e Event, at time.Time) {
	d := DeliveryError{
		AccountID: e.AccountID, EndpointID: e.EndpointID, Path: e.Path, Status: e.Status, Reason: e.Reason, At: at,
	}
	if len(d.Path) > maxErrorPathLen {
		d.Path = d.Path[:maxErrorPathLen]
	}
	// The caller's slice may be shared with the routing table: copy.
	d.OriginIDs = slices.Clone(e.OriginIDs[:min(len(e.OriginIDs), maxErrorOrigins)])
	s := &l.shards[maphash.String(l.seed, e.AccountID)%errorShards]
	s.mu.Lock()
	list, ok := s.m[e.AccountID]
	if ok || len(s.m) < maxErrorAccounts/errorShards {
		s.m[e.AccountID] = addError(list, d)
	}
	s.mu.Unlock()
}

// addError appends d to list (oldest first), replacing an entry for the
// same endpoint, path and status and dropping the oldest beyond
// MaxErrorsPerAccount.
func addError(list []DeliveryError, d DeliveryError) []DeliveryError {
	if i := slices.IndexFunc(list, d.sameAs); i >= 0 {
		list = slices.Delete(list, i, i+1)
	}
	if len(list) >= MaxErrorsPerAccount {
		list = slices.Delete(list, 0, len(list)-MaxErrorsPerAccount+1)
	}
	return append(list, d)
}

// DrainErrors moves every recorded error into into (per account, oldest
// first, merged with what is there under the same bounds) and leaves the
// meter without errors.
func (m *Meter) DrainErrors(into map[string][]DeliveryError) {
	for i := range m.errs.shards {
		s := &m.errs.shards[i]
		s.mu.Lock()
		if len(s.m) == 0 {
			s.mu.Unlock()
			continue
		}
		taken := s.m
		s.m = make(map[string][]DeliveryError)
		s.mu.Unlock()
		for acct, list := range taken {
			if _, ok := into[acct]; !ok && len(into) >= maxErrorAccounts {
				continue
			}
			for _, d := range list {
				into[acct] = addError(into[acct], d)
			}
		}
	}
}

package tenant

import "time"

// UsageReport is one batch of traffic counters from an edge. ID makes it
// idempotent: a report whose ID was already counted adds nothing, so an
// edge may retry a report whose acknowledgement it never saw.
type UsageReport struct {
	ID     string
	NodeID string
	// Rows holds at most one entry per (AccountID, Day).
	Rows []AccountUsage
	// Errors are recent delivery errors, stored with the report (once).
	Errors []DeliveryError
}

// AccountUsage is one account's counters for one UTC day in a report.
type AccountUsage struct {
	AccountID string
	UsageDay
}

// DeliveryError is one failed image request an edge reported: the
// dashboard's "Not-found help" lists an account's most recent ones.
type DeliveryError struct {
	AccountID  string
	EndpointID string
	// Path is the escaped image path as requested, without query.
	Path   string
	Status int
	// Reason is errkind's reason ("not_found", "origin_timeout", ...) or
	// the coarse one an edge derived from the status.
	Reason string
	// OriginIDs are the endpoint's origins in the order they were tried.
	OriginIDs  []string
	OccurredAt time.Time
	// NodeID is the edge that answered.
	NodeID string
}

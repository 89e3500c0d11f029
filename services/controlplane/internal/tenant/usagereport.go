package tenant

// UsageReport is one batch of traffic counters from an edge. ID makes it
// idempotent: a report whose ID was already counted adds nothing, so an
// edge may retry a report whose acknowledgement it never saw.
type UsageReport struct {
	ID     string
	NodeID string
	// Rows holds at most one entry per (AccountID, Day).
	Rows []AccountUsage
}

// AccountUsage is one account's counters for one UTC day in a report.
type AccountUsage struct {
	AccountID string
	UsageDay
}

// Package purge holds what the control plane, which records purges, and
// the edges, which honour them, must agree on.
//
// A purge is a rule carried to every edge: entries stored before it that
// cover its path are dropped. Rules cannot be kept forever, so a purge is
// exact only if no cached entry outlives the rules that cover it: the
// control plane keeps every rule for Retention, and an edge never keeps an
// entry longer than Retention from when it stored (or last confirmed) it.
package purge

import "time"

// Retention is how long a purge rule is kept, and the longest an edge
// keeps any cached entry: the default cache TTL of 30 days plus the 7-day
// stale grace period (DESIGN §7). A longer TTL still works: the entry is
// fetched again (or revalidated) after Retention.
const Retention = (30 + 7) * 24 * time.Hour

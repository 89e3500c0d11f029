// Package freshness is the edge's cache policy in one place. Given what the
// cache holds for a request — a variant (or an original's bytes) and the
// original's record — the time and the purges in force, Decide says what
// the request path does: serve, serve stale while the original is refreshed
// in the background, answer a remembered failure, or produce anew. The
// lifetimes of what is stored and the Cache-Control of what is answered are
// decided here too, so the request path asks once and the rules can be read
// together (DESIGN §6–7, RFC 5861).
package freshness

import (
	"strconv"
	"time"

	"pictor/services/edge/internal/cache"
	"pictor/services/internal/purge"
)

// Verdict is what to do with what the cache holds.
type Verdict int

const (
	// Produce: nothing usable is cached; fetch and make it.
	Produce Verdict = iota
	// Serve: the entry is fresh.
	Serve
	// Renew: the entry's own freshness ran out, but the origin has
	// confirmed its original since (the record is fresh and names the
	// same original): serve it, and store it with the record's lifetime.
	Renew
	// ServeStale: past its freshness but within the grace period: serve it
	// at once and refresh the original in the background.
	ServeStale
	// Refuse: the original's record remembers a failure (on no origin, or
	// it does not decode) that still stands: answer that.
	Refuse
)

var verdictNames = [...]string{"produce", "serve", "renew", "serve_stale", "refuse"}

func (v Verdict) String() string { return verdictNames[v] }

// Facts is what the cache holds for one request, and the world it is
// judged in.
type Facts struct {
	Now    time.Time
	Entry  *cache.Entry // the variant, or an original's bytes; nil if none
	Record *cache.Entry // the original's record; nil if none
	// Purged reports whether a purge issued after e was stored covers it.
	Purged func(e *cache.Entry) bool
	// OriginSet fingerprints the endpoint's origins now: a miss remembered
	// for another set of origins says nothing about this one.
	OriginSet string
}

// Drop names cached entries the request path must delete: they are covered
// by a purge, and a purge is exact.
type Drop struct{ Entry, Record bool }

// Decide returns the verdict on f, and what to delete.
func Decide(f Facts) (Verdict, Drop) {
	var drop Drop
	rec, e := f.Record, f.Entry
	if rec != nil && f.Purged(rec) {
		rec, drop.Record = nil, true
	}
	if e != nil && f.Purged(e) {
		e, drop.Entry = nil, true
	}
	if rec != nil && rec.Status != 200 {
		if rec.Status == 404 && rec.OriginSet != f.OriginSet {
			return Produce, drop // the origins changed since
		}
		if f.Now.Before(rec.FreshUntil) {
			return Refuse, drop
		}
		rec = nil
	}
	switch {
	case e == nil:
		return Produce, drop
	case rec != nil && !SameOriginal(rec, e):
		return Produce, drop // made from an original the origin has since replaced
	case e.Fresh(f.Now):
		return Serve, drop
	case rec != nil && rec.Fresh(f.Now):
		return Renew, drop
	case e.Usable(f.Now) && (rec == nil || rec.Usable(f.Now)):
		return ServeStale, drop
	}
	return Produce, drop
}

// SameOriginal reports whether two entries were made from the same copy of
// an original, by the origin's validators.
func SameOriginal(a, b *cache.Entry) bool {
	return a.SourceID == b.SourceID && a.OriginETag == b.OriginETag && a.OriginLastModified == b.OriginLastModified
}

// Renewed is e with the record's lifetime, stamped as stored now.
func Renewed(e, record *cache.Entry, now time.Time, version uint64) *cache.Entry {
	r := *e
	r.FreshUntil, r.StaleUntil = record.FreshUntil, record.StaleUntil
	Stamp(&r, now, version)
	return &r
}

// Lifetime is how long something made now from an original is fresh (the
// endpoint's TTL, or the origin's max-age when the endpoint says so) and
// then usable stale (the grace period). Stamp caps both.
func Lifetime(now time.Time, ttl, grace time.Duration) (freshUntil, staleUntil time.Time) {
	return now.Add(ttl), now.Add(ttl + grace)
}

// Stamp marks e as stored now under config version: purges issued after
// this version cover it, and it never outlives purge.Retention from now.
// A purge rule is kept that long, so no entry outlives a rule that covers
// it: a purge is exact forever.
func Stamp(e *cache.Entry, now time.Time, version uint64) {
	e.StoredAt, e.ConfigVersion = now, version
	limit := now.Add(purge.Retention)
	if e.StaleUntil.After(limit) {
		e.StaleUntil = limit
	}
	if e.FreshUntil.After(e.StaleUntil) {
		e.FreshUntil = e.StaleUntil
	}
}

// NegativeTTL is how long a failure of an original is remembered: an image
// on no origin (RELIABILITY 14), or one that does not decode, so a fixed
// origin is tried again soon.
const NegativeTTL = 60 * time.Second

// Failure is the record of an original that failed with status (404 or
// 422), stored now.
func Failure(now time.Time, version uint64, status int, reason, message, originSet string) *cache.Entry {
	e := &cache.Entry{Status: status, ErrReason: reason, ErrMessage: message, OriginSet: originSet,
		FreshUntil: now.Add(NegativeTTL), StaleUntil: now.Add(NegativeTTL)}
	Stamp(e, now, version)
	return e
}

// StaleMaxAge is the Cache-Control max-age of a stale answer: its
// refresh is under way.
const StaleMaxAge = 60 * time.Second

// DefaultMaxAge is the Cache-Control max-age of a shareable image when the
// account sets none: a year, as immutable assets get.
const DefaultMaxAge = 365 * 24 * time.Hour

// Answer is what the Cache-Control of a response depends on.
type Answer struct {
	Stale bool // X-Cache: STALE
	// Private and NoStore: the origin marked the original private (or set
	// a cookie), or no-store. The edge does not share such an answer, and
	// neither may anyone downstream.
	Private, NoStore bool
	MaxAge           time.Duration // the account's max-age for shareable images; 0: DefaultMaxAge
}

// CacheControl is the header for an image answer.
func CacheControl(a Answer) string {
	switch {
	case a.NoStore:
		return "no-store"
	case a.Private:
		return "private, no-cache"
	case a.Stale:
		return maxAge(StaleMaxAge)
	case a.MaxAge > 0:
		return maxAge(a.MaxAge)
	}
	return maxAge(DefaultMaxAge)
}

// ErrorCacheControl is the header for an error answer. A failure of the
// image itself — on no origin (404), a source that cannot be processed
// (422) — stands for a while, and the edge remembers it for NegativeTTL:
// downstream may too. Anything else (a bad URL, overload, an origin down,
// this edge's memory) is not stored at all.
func ErrorCacheControl(status int, reason string) string {
	switch {
	case status == 404, status == 422 && reason != "memory_over_budget" && reason != "source_format_not_deliverable":
		return maxAge(NegativeTTL)
	}
	return "no-store"
}

func maxAge(d time.Duration) string {
	return "public, max-age=" + strconv.FormatInt(int64(d/time.Second), 10)
}

package freshness

import (
	"testing"
	"time"

	"pictor/services/edge/internal/cache"
	"pictor/services/internal/purge"
)

func TestDecide(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	entry := func(fresh, stale time.Duration, etag string) *cache.Entry {
		return &cache.Entry{Status: 200, FreshUntil: now.Add(fresh), StaleUntil: now.Add(stale), OriginETag: etag, SourceID: "o1", ConfigVersion: 5}
	}
	failure := func(status int, fresh time.Duration, set string) *cache.Entry {
		return &cache.Entry{Status: status, FreshUntil: now.Add(fresh), StaleUntil: now.Add(fresh), OriginSet: set, ConfigVersion: 5}
	}
	purgedBefore := func(v uint64) func(*cache.Entry) bool {
		return func(e *cache.Entry) bool { return e.ConfigVersion < v }
	}
	none := purgedBefore(0)
	cases := []struct {
		name    string
		entry   *cache.Entry
		record  *cache.Entry
		purged  func(*cache.Entry) bool
		want    Verdict
		drop    Drop
		origins string
	}{
		{name: "nothing cached", want: Produce},
		{name: "fresh", entry: entry(time.Hour, 2*time.Hour, `"a"`), want: Serve},
		{name: "fresh, record agrees", entry: entry(time.Hour, 2*time.Hour, `"a"`), record: entry(time.Hour, 2*time.Hour, `"a"`), want: Serve},
		{name: "stale, no record", entry: entry(-time.Hour, time.Hour, `"a"`), want: ServeStale},
		{name: "stale, record stale too", entry: entry(-time.Hour, time.Hour, `"a"`), record: entry(-time.Hour, time.Hour, `"a"`), want: ServeStale},
		{name: "stale, original confirmed since", entry: entry(-time.Hour, time.Hour, `"a"`), record: entry(time.Hour, 2*time.Hour, `"a"`), want: Renew},
		{name: "original replaced since", entry: entry(time.Hour, 2*time.Hour, `"a"`), record: entry(time.Hour, 2*time.Hour, `"b"`), want: Produce},
		{name: "past the grace period", entry: entry(-2*time.Hour, -time.Hour, `"a"`), want: Produce},
		{name: "past grace by the record", entry: entry(-2*time.Hour, time.Hour, `"a"`), record: entry(-2*time.Hour, -time.Hour, `"a"`), want: Produce},
		{name: "remembered 404", entry: entry(time.Hour, 2*time.Hour, `"a"`), record: failure(404, time.Minute, "s1"), origins: "s1", want: Refuse},
		{name: "remembered 422", record: failure(422, time.Minute, "s1"), origins: "s1", want: Refuse},
		{name: "404 for other origins", record: failure(404, time.Minute, "s0"), origins: "s1", want: Produce},
		{name: "failure expired", record: failure(404, -time.Second, "s1"), origins: "s1", want: Produce},
		{name: "purged variant", entry: entry(time.Hour, 2*time.Hour, `"a"`), purged: purgedBefore(6), want: Produce, drop: Drop{Entry: true}},
		{name: "purged failure", record: failure(404, time.Minute, "s1"), origins: "s1", purged: purgedBefore(6), want: Produce, drop: Drop{Record: true}},
		{name: "purge older than the entry", entry: entry(time.Hour, 2*time.Hour, `"a"`), purged: purgedBefore(5), want: Serve},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.purged
			if p == nil {
				p = none
			}
			got, drop := Decide(Facts{Now: now, Entry: tc.entry, Record: tc.record, Purged: p, OriginSet: tc.origins})
			if got != tc.want || drop != tc.drop {
				t.Fatalf("Decide = %v %+v, want %v %+v", got, drop, tc.want, tc.drop)
			}
		})
	}
}

// Nothing stored outlives purge.Retention, so no entry outlives a purge
// rule that covers it.
func TestStampCapsLifetime(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	fresh, stale := Lifetime(now, 365*24*time.Hour, 30*24*time.Hour)
	e := &cache.Entry{FreshUntil: fresh, StaleUntil: stale}
	Stamp(e, now, 42)
	if !e.StaleUntil.Equal(now.Add(purge.Retention)) || e.FreshUntil.After(e.StaleUntil) || e.ConfigVersion != 42 || !e.StoredAt.Equal(now) {
		t.Fatalf("stamped %+v", e)
	}
	short := &cache.Entry{FreshUntil: now.Add(time.Hour), StaleUntil: now.Add(2 * time.Hour)}
	Stamp(short, now, 1)
	if !short.StaleUntil.Equal(now.Add(2*time.Hour)) || !short.FreshUntil.Equal(now.Add(time.Hour)) {
		t.Fatalf("a short lifetime was changed: %+v", short)
	}
}

func TestCacheControl(t *testing.T) {
	cases := []struct {
		name string
		a    Answer
		want string
	}{
		{"shareable, default", Answer{}, "public, max-age=31536000"},
		{"shareable, account max-age", Answer{MaxAge: time.Hour}, "public, max-age=3600"},
		{"stale", Answer{Stale: true, MaxAge: time.Hour}, "public, max-age=60"},
		{"private", Answer{Private: true}, "private, no-cache"},
		{"no-store", Answer{NoStore: true, Private: true}, "no-store"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := CacheControl(tc.a); got != tc.want {
				t.Fatalf("CacheControl = %q, want %q", got, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		status int
		reason string
		want   string
	}{
		{404, "not_found", "public, max-age=60"},
		{422, "source_corrupt", "public, max-age=60"},
		{422, "memory_over_budget", "no-store"},
		{422, "source_format_not_deliverable", "no-store"},
		{400, "invalid_parameter", "no-store"},
		{502, "origin_status", "no-store"},
		{503, "transform_queue_full", "no-store"},
		{504, "origin_timeout", "no-store"},
	} {
		if got := ErrorCacheControl(tc.status, tc.reason); got != tc.want {
			t.Errorf("ErrorCacheControl(%d, %s) = %q, want %q", tc.status, tc.reason, got, tc.want)
		}
	}
}

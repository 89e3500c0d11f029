package httpapi_test

import (
	"testing"
)

func TestUsage(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	k := a.createAccount("acme").PrivateKey
	a.createAccount("bravo")
	// Rows as usage ingest writes them.
	a.exec(`INSERT INTO usage_daily (account_id, day, requests, bytes_out, hits_l1, hits_l2, misses, origin_fetches, transforms, status_4xx, status_5xx) VALUES
		('acme', '2024-02-29', 1000, 1000, 1, 1, 1, 1, 1, 1, 1),
		('acme', '2024-03-01', 10, 1000, 5, 2, 3, 3, 2, 1, 0),
		('acme', '2024-03-03', 20, 3000, 10, 4, 6, 6, 4, 2, 1),
		('acme', '2024-03-04', 1000, 1000, 1, 1, 1, 1, 1, 1, 1),
		('bravo', '2024-03-01', 99, 99999, 9, 9, 9, 9, 9, 9, 9)`)

	r := a.do("GET", "/v1/accounts/usage?startDate=2024-03-01&endDate=2024-03-04", nil, key(k))
	type day struct {
		Date                                             string
		Requests, BandwidthBytes, HitsL1, HitsL2, Misses int64
		OriginFetches, Transforms, Status4xx, Status5xx  int64
	}
	u := ok[struct {
		BandwidthBytes, Requests, HitsL1, HitsL2, Misses, OriginFetches, Transforms, Status4xx, Status5xx int64
		MediaLibraryStorageBytes                                                                          int64
		StartDate, EndDate                                                                                string
		Days                                                                                              []day
	}](t, r, 200)
	wantFields(t, r.body, "bandwidthBytes", "mediaLibraryStorageBytes", "originalCacheStorageBytes", "videoProcessingUnitsCount",
		"extensionUnitsCount", "startDate", "endDate", "requests", "hitsL1", "hitsL2", "misses", "originFetches", "transforms",
		"status4xx", "status5xx", "days")
	if u.BandwidthBytes != 4000 || u.Requests != 30 || u.HitsL1 != 15 || u.HitsL2 != 6 || u.Misses != 9 || u.OriginFetches != 9 ||
		u.Transforms != 6 || u.Status4xx != 3 || u.Status5xx != 1 || u.StartDate != "2024-03-01" || u.EndDate != "2024-03-04" {
		t.Fatalf("totals %+v", u)
	}
	want := []day{
		{"2024-03-01", 10, 1000, 5, 2, 3, 3, 2, 1, 0},
		{"2024-03-02", 0, 0, 0, 0, 0, 0, 0, 0, 0},
		{"2024-03-03", 20, 3000, 10, 4, 6, 6, 4, 2, 1},
	}
	if len(u.Days) != len(want) {
		t.Fatalf("days %+v", u.Days)
	}
	for i := range want {
		if u.Days[i] != want[i] {
			t.Fatalf("day %d: %+v, want %+v", i, u.Days[i], want[i])
		}
	}
	// A leap year's full range is fine; one day more is not.
	ok[any](t, a.do("GET", "/v1/accounts/usage?startDate=2024-01-01&endDate=2025-01-01", nil, key(k)), 200)

	errs := []struct {
		query, field string
	}{
		{"", "startDate"},
		{"?endDate=2024-03-04", "startDate"},
		{"?startDate=2024-03-01", "endDate"},
		{"?startDate=2024-3-1&endDate=2024-03-04", "startDate"},
		{"?startDate=2024-02-30&endDate=2024-03-04", "startDate"},
		{"?startDate=2024-03-01T00:00:00Z&endDate=2024-03-04", "startDate"},
		{"?startDate=2024-03-01&endDate=tomorrow", "endDate"},
		{"?startDate=2024-03-01&endDate=2024-03-01", "endDate"},
		{"?startDate=2024-03-02&endDate=2024-03-01", "endDate"},
		{"?startDate=2024-01-01&endDate=2025-01-02", "endDate"},
	}
	for _, tt := range errs {
		t.Run(tt.query, func(t *testing.T) {
			wantError(t, a.do("GET", "/v1/accounts/usage"+tt.query, nil, key(k)), 400, tt.field)
		})
	}
}

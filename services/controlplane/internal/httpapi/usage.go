package httpapi

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"pictor/services/controlplane/internal/tenant"
	"pictor/services/internal/errkind"
)

// maxUsageDays bounds a usage query (ImageKit allows 90; a year of daily
// rows is still small).
const maxUsageDays = 366

// minUsageDate is the earliest date a usage query may name.
var minUsageDate = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)

type usageDayJSON struct {
	Date           string `json:"date"`
	Requests       int64  `json:"requests"`
	BandwidthBytes int64  `json:"bandwidthBytes"`
	HitsL1         int64  `json:"hitsL1"`
	HitsL2         int64  `json:"hitsL2"`
	Misses         int64  `json:"misses"`
	OriginFetches  int64  `json:"originFetches"`
	Transforms     int64  `json:"transforms"`
	Status4xx      int64  `json:"status4xx"`
	Status5xx      int64  `json:"status5xx"`
}

// usageJSON is ImageKit's usage response (the storage and unit counters
// Pictor has no equivalent of are 0) plus Pictor's totals and one entry per
// day of the range, zero days included.
type usageJSON struct {
	BandwidthBytes            int64          `json:"bandwidthBytes"`
	MediaLibraryStorageBytes  int64          `json:"mediaLibraryStorageBytes"`
	OriginalCacheStorageBytes int64          `json:"originalCacheStorageBytes"`
	VideoProcessingUnitsCount int64          `json:"videoProcessingUnitsCount"`
	ExtensionUnitsCount       int64          `json:"extensionUnitsCount"`
	StartDate                 string         `json:"startDate"`
	EndDate                   string         `json:"endDate"`
	Requests                  int64          `json:"requests"`
	HitsL1                    int64          `json:"hitsL1"`
	HitsL2                    int64          `json:"hitsL2"`
	Misses                    int64          `json:"misses"`
	OriginFetches             int64          `json:"originFetches"`
	Transforms                int64          `json:"transforms"`
	Status4xx                 int64          `json:"status4xx"`
	Status5xx                 int64          `json:"status5xx"`
	Days                      []usageDayJSON `json:"days"`
}

// parseDate reads a YYYY-MM-DD query parameter as midnight UTC.
func parseDate(c echo.Context, field string) (time.Time, error) {
	v := c.QueryParam(field)
	if v == "" {
		return time.Time{}, errkind.InvalidField(field, field+" is required (YYYY-MM-DD, UTC)")
	}
	d, err := time.Parse(time.DateOnly, v)
	if err != nil || d.Format(time.DateOnly) != v {
		return time.Time{}, errkind.InvalidField(field, field+" must be a date written YYYY-MM-DD")
	}
	// Postgres has no year 0, and no traffic predates Pictor anyway.
	if d.Before(minUsageDate) {
		return time.Time{}, errkind.InvalidField(field, field+" must be "+minUsageDate.Format(time.DateOnly)+" or later")
	}
	return d, nil
}

// usage reports traffic for [startDate, endDate), UTC days; endDate is
// exclusive and must be after startDate, as ImageKit's.
func (s *server) usage(c echo.Context) error {
	start, err := parseDate(c, "startDate")
	if err != nil {
		return err
	}
	end, err := parseDate(c, "endDate")
	if err != nil {
		return err
	}
	if !end.After(start) {
		return errkind.InvalidField("endDate", "endDate must be after startDate (it is exclusive)")
	}
	if end.Sub(start) > maxUsageDays*24*time.Hour {
		return errkind.InvalidField("endDate", "the range may span at most 366 days")
	}
	days, err := s.Store.Usage(c.Request().Context(), callerOf(c), start, end)
	if err != nil {
		return err
	}
	byDay := make(map[string]tenant.UsageDay, len(days))
	for _, d := range days {
		byDay[d.Day.Format(time.DateOnly)] = d
	}
	out := usageJSON{StartDate: start.Format(time.DateOnly), EndDate: end.Format(time.DateOnly), Days: []usageDayJSON{}}
	for day := start; day.Before(end); day = day.AddDate(0, 0, 1) {
		date := day.Format(time.DateOnly)
		d := byDay[date]
		out.Days = append(out.Days, usageDayJSON{
			Date: date, Requests: d.Requests, BandwidthBytes: d.BytesOut, HitsL1: d.HitsL1, HitsL2: d.HitsL2,
			Misses: d.Misses, OriginFetches: d.OriginFetches, Transforms: d.Transforms,
			Status4xx: d.Status4xx, Status5xx: d.Status5xx,
		})
		out.BandwidthBytes += d.BytesOut
		out.Requests += d.Requests
		out.HitsL1 += d.HitsL1
		out.HitsL2 += d.HitsL2
		out.Misses += d.Misses
		out.OriginFetches += d.OriginFetches
		out.Transforms += d.Transforms
		out.Status4xx += d.Status4xx
		out.Status5xx += d.Status5xx
	}
	return c.JSON(http.StatusOK, out)
}

package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"pictor/services/internal/errkind"
)

// maxDeliveryErrors is the most a delivery-errors query returns: what the
// control plane keeps per account.
const (
	maxDeliveryErrors     = 100
	defaultDeliveryErrors = 50
)

type deliveryErrorJSON struct {
	Path       string   `json:"path"`
	Status     int      `json:"status"`
	Reason     string   `json:"reason"`
	OriginIDs  []string `json:"originIds"`
	EndpointID string   `json:"endpointId"`
	OccurredAt string   `json:"occurredAt"`
}

// deliveryErrors lists the account's recent delivery errors the edges
// reported, newest first.
func (s *server) deliveryErrors(c echo.Context) error {
	limit := defaultDeliveryErrors
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxDeliveryErrors {
			return errkind.InvalidField("limit", "limit must be a number from 1 to "+strconv.Itoa(maxDeliveryErrors))
		}
		limit = n
	}
	list, err := s.Store.DeliveryErrors(c.Request().Context(), callerOf(c), limit)
	if err != nil {
		return err
	}
	out := make([]deliveryErrorJSON, 0, len(list))
	for _, e := range list {
		ids := e.OriginIDs
		if ids == nil {
			ids = []string{}
		}
		out = append(out, deliveryErrorJSON{
			Path: e.Path, Status: e.Status, Reason: e.Reason, OriginIDs: ids, EndpointID: e.EndpointID,
			OccurredAt: e.OccurredAt.UTC().Format(time.RFC3339Nano),
		})
	}
	return c.JSON(http.StatusOK, out)
}

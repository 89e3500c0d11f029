package delivery

import "pictor/services/edge/internal/usage"

// UsageRecorder counts image responses per account (usage.Meter). Record is
// called on the request path once per response and must not block.
type UsageRecorder interface {
	Record(usage.Event)
}

// recordUsage counts one image response. A request that never resolved to
// an account (unknown account, no config yet) is nobody's usage. The
// origin fetch and the transform count for the request whose work ran them,
// not for the requests that joined it, so coalesced misses are not
// multiplied.
//
// A delivery failure the customer can act on (usage.IsReportedError: 404,
// 422, 502, 504) also carries what the "Not-found help" page shows: the
// image path, the URL-endpoint and its origins in the order they are tried.
// Its reason is derived from the status (errorReason), since only the
// status reaches this point.
func (h *Handler) recordUsage(req *request, status, bytes int, v *variant, reason string) {
	if h.Usage == nil || req == nil || req.route.Account == nil {
		return
	}
	e := usage.Event{AccountID: req.route.Account.ID, Status: status, Bytes: int64(bytes)}
	if v != nil {
		e.CacheStatus = v.cacheStatus
		e.OriginFetched = !req.coalesced && v.originDur > 0
		e.Transformed = !req.coalesced && v.transDur > 0
	}
	if usage.IsReportedError(status) && req.imagePath != "" && req.route.Endpoint != nil {
		e.Path = req.imagePath
		e.EndpointID = req.route.Endpoint.ID
		e.Reason = reason
		if e.Reason == "" {
			e.Reason = errorReason(status)
		}
		if n := len(req.route.Endpoint.Origins); n > 0 {
			// The meter copies the ids it keeps; this slice is only read.
			e.OriginIDs = make([]string, n)
			for i, o := range req.route.Endpoint.Origins {
				e.OriginIDs[i] = o.ID
			}
		}
	}
	h.Usage.Record(e)
}

// errorReason is the coarse reason a reported delivery error carries when
// the precise errkind reason (origin_status, source_corrupt, ...) is not
// known. The dashboard words both kinds for the customer.
func errorReason(status int) string {
	switch status {
	case 404:
		return "not_found"
	case 422:
		return "unprocessable"
	case 502:
		return "bad_gateway"
	case 504:
		return "timeout"
	}
	return ""
}

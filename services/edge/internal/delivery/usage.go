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
func (h *Handler) recordUsage(req *request, status, bytes int, v *variant) {
	if h.Usage == nil || req == nil || req.route.Account == nil {
		return
	}
	e := usage.Event{AccountID: req.route.Account.ID, Status: status, Bytes: int64(bytes)}
	if v != nil {
		e.CacheStatus = v.cacheStatus
		e.OriginFetched = !req.coalesced && v.originDur > 0
		e.Transformed = !req.coalesced && v.transDur > 0
	}
	h.Usage.Record(e)
}

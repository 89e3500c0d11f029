package delivery

import (
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"
	"time"

	"pictor/services/edge/internal/usage"
)

type recordedUsage struct {
	mu     sync.Mutex
	events []usage.Event
}

func (r *recordedUsage) Record(e usage.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recordedUsage) take() []usage.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.events
	r.events = nil
	return out
}

func TestUsageRecorded(t *testing.T) {
	o := newScriptedOrigin(t, photo(t, 400, 300))
	f := newCacheFixture(t, o, nil, 0)
	rec := &recordedUsage{}
	f.handler.Usage = rec

	miss := f.get("/demo/tr:w-100/p.jpg")
	expectCache(t, miss, 200, "MISS")
	hit := f.get("/demo/tr:w-100/p.jpg")
	etag := hit.Header().Get("ETag")
	head := httptest.NewRecorder()
	f.handler.ServeHTTP(head, httptest.NewRequest("HEAD", "/demo/tr:w-100/p.jpg", nil))
	notModified := f.get("/demo/tr:w-100/p.jpg", "If-None-Match", etag)
	missing := f.get("/demo/missing.jpg")
	f.get("/nobody/p.jpg") // no such account: nobody's usage

	if notModified.Code != 304 || missing.Code != 404 {
		t.Fatalf("statuses %d %d", notModified.Code, missing.Code)
	}
	n := int64(miss.Body.Len())
	want := []usage.Event{
		{AccountID: "demo", Status: 200, Bytes: n, CacheStatus: "MISS", OriginFetched: true, Transformed: true},
		{AccountID: "demo", Status: 200, Bytes: n, CacheStatus: "HIT-L1"},
		{AccountID: "demo", Status: 200, Bytes: 0, CacheStatus: "HIT-L1"},
		{AccountID: "demo", Status: 304, Bytes: 0, CacheStatus: "HIT-L1"},
		// A 404 is a reported delivery error: it names the path, the
		// endpoint and its origins, with the reason its status implies.
		{AccountID: "demo", Status: 404, Path: "missing.jpg", EndpointID: "ep", OriginIDs: []string{"o1"}, Reason: "not_found"},
	}
	got := rec.take()
	if len(got) != len(want) {
		t.Fatalf("recorded %d events, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("event %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestUsageCoalesced: of many concurrent misses for one variant, only the
// request whose work ran counts the origin fetch and the transform.
func TestUsageCoalesced(t *testing.T) {
	o := newScriptedOrigin(t, photo(t, 400, 300))
	o.set(func(o *scriptedOrigin) { o.delay = 200 * time.Millisecond })
	f := newCacheFixture(t, o, nil, 0)
	rec := &recordedUsage{}
	f.handler.Usage = rec

	const n = 8
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.get("/demo/tr:w-77/p.jpg")
		}()
	}
	wg.Wait()
	var fetches, transforms int
	events := rec.take()
	for _, e := range events {
		if e.OriginFetched {
			fetches++
		}
		if e.Transformed {
			transforms++
		}
	}
	if len(events) != n || fetches != 1 || transforms != 1 || o.requests.Load() != 1 {
		t.Fatalf("%d events, %d fetches, %d transforms counted, origin saw %d; want %d events and 1 of each",
			len(events), fetches, transforms, o.requests.Load(), n)
	}
}

func TestErrorReason(t *testing.T) {
	for status, want := range map[int]string{404: "not_found", 422: "unprocessable", 502: "bad_gateway", 504: "timeout", 500: ""} {
		if got := errorReason(status); got != want {
			t.Errorf("errorReason(%d) = %q, want %q", status, got, want)
		}
	}
}

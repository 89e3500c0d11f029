package errkind

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestClassification(t *testing.T) {
	inner := errors.New("dial tcp 10.0.0.1:80: connection refused")
	cases := []struct {
		name             string
		err              error
		kind             Kind
		reason, safe, fd string
	}{
		{"plain error is internal and hidden", inner, Internal, "internal", "internal error", ""},
		{"kinded", New(NotFound, "not_found", "image not found"), NotFound, "not_found", "image not found", ""},
		{"wrapped keeps the safe message, hides the cause", fmt.Errorf("fetch: %w", Wrap(BadGateway, "origin_unreachable", "origin could not be reached", inner)),
			BadGateway, "origin_unreachable", "origin could not be reached", ""},
		{"field", InvalidField("baseUrl", "must be absolute"), Invalid, "invalid_field", "must be absolute", "baseUrl"},
		{"deadline is a timeout", fmt.Errorf("x: %w", context.DeadlineExceeded), Timeout, "timeout", "timed out", ""},
		{"cancel is unavailable", context.Canceled, Unavailable, "unavailable", "service unavailable, retry later", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if KindOf(tc.err) != tc.kind || Reason(tc.err) != tc.reason || SafeMessage(tc.err) != tc.safe || FieldOf(tc.err) != tc.fd {
				t.Fatalf("got kind %v reason %q safe %q field %q", KindOf(tc.err), Reason(tc.err), SafeMessage(tc.err), FieldOf(tc.err))
			}
		})
	}
	if e := Wrap(BadGateway, "r", "m", inner); !errors.Is(e, inner) || e.Error() == "m" {
		t.Fatalf("Wrap must keep the cause for logs: %q", e.Error())
	}
	if Kind(99).String() != "kind(99)" {
		t.Fatal("unknown kind name")
	}
}

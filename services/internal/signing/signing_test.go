package signing

import (
	"testing"
	"time"

	"pictor/services/internal/errkind"
)

// Vectors from DESIGN §4 (key "dummy-key"), as produced by ImageKit's SDKs.
var vectors = []struct{ name, target, sig string }{
	{"plain path", "sdk-testing-files/future-search.png", "32dbbbfc5f945c0403c71b54c38e76896ef2d6b0"},
	{"escaped unicode path", "sdk-testing-files/%E0%A4%B9%E0%A4%BF%E0%A4%A8%E0%A5%8D%E0%A4%A6%E0%A5%80.png", "3fff2f31da1f45e007adcdbe95f88c8c330e743c"},
	{"with tr query", "sdk-testing-files/%E0%A4%B9%E0%A4%BF%E0%A4%A8%E0%A5%8D%E0%A4%A6%E0%A5%80.png?tr=l-text,ie-4KS54KS%2F4KSo4KWN4KSm4KWA,fs-32,ff-sdk-testing-files@@Poppins-Regular_Q15GrYWmL.ttf,co-red,l-end", "705e41579d368caa6530a4375355325277fcfe5c"},
}

func TestSignVectors(t *testing.T) {
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			if got := Sign([]byte("dummy-key"), v.target, ""); got != v.sig {
				t.Fatalf("Sign = %s, want %s", got, v.sig)
			}
			if err := Verify([][]byte{[]byte("other"), []byte("dummy-key")}, v.target, v.sig, "", time.Now()); err != nil {
				t.Fatalf("Verify with the second key: %v", err)
			}
		})
	}
}

func TestStripParams(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"no query", "a/b.jpg", "a/b.jpg"},
		{"only signature", "a.jpg?ik-s=abc", "a.jpg"},
		{"signature and expiry", "a.jpg?ik-t=1&ik-s=abc", "a.jpg"},
		{"kept middle", "a.jpg?ik-t=1&tr=w-1&ik-s=abc", "a.jpg?tr=w-1"},
		{"kept raw", "a.jpg?tr=w-1%2Ch-2&ik-s=x&v=2", "a.jpg?tr=w-1%2Ch-2&v=2"},
		{"similar names kept", "a.jpg?ik-sx=1&ik-s=x", "a.jpg?ik-sx=1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := StripParams(tc.in); got != tc.want {
				t.Fatalf("StripParams(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestVerifyFailures(t *testing.T) {
	key := [][]byte{[]byte("dummy-key")}
	now := time.Unix(1_700_000_000, 0)
	future := "1800000000"
	good := Sign(key[0], "a.jpg", future)
	flipped := []byte(good)
	if flipped[0] == 'a' {
		flipped[0] = 'b'
	} else {
		flipped[0] = 'a'
	}
	cases := []struct{ name, sig, expires, reason string }{
		{"valid", good, future, ""},
		{"missing", "", "", "signature_missing"},
		{"flipped byte", string(flipped), future, "signature_invalid"},
		{"short", good[:10], future, "signature_invalid"},
		{"not hex", "zz" + good[2:], future, "signature_invalid"},
		{"expired", Sign(key[0], "a.jpg", "1600000000"), "1600000000", "signature_expired"},
		{"expiry changed", good, "1900000000", "signature_invalid"},
		{"expiry not a number", good, "soon", "signature_bad_expiry"},
		{"wrong key", Sign([]byte("other"), "a.jpg", future), future, "signature_invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(key, "a.jpg", tc.sig, tc.expires, now)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if errkind.KindOf(err) != errkind.Unauthorized || errkind.Reason(err) != tc.reason {
				t.Fatalf("Verify = %v, want unauthorized %s", err, tc.reason)
			}
		})
	}
}

func FuzzVerify(f *testing.F) {
	for _, v := range vectors {
		f.Add(v.target, v.sig, "")
	}
	f.Add("a.jpg?ik-s=1", "00", "123")
	f.Fuzz(func(t *testing.T, target, sig, expires string) {
		err := Verify([][]byte{[]byte("k")}, StripParams(target), sig, expires, time.Unix(0, 0))
		if err != nil && errkind.KindOf(err) != errkind.Unauthorized {
			t.Fatalf("Verify error of kind %v", errkind.KindOf(err))
		}
	})
}

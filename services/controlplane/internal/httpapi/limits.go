package httpapi

import (
	"math"
	"net/netip"
	"runtime"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"pictor/services/controlplane/internal/throttle"
	"pictor/services/internal/errkind"
)

// Abuse limits of the unauthenticated routes. The per-address ones live in
// each replica's memory (package throttle): they answer before any
// database work, and with N replicas behind a balancer an address gets up
// to N times them. Login attempts per email are counted in Postgres
// instead (tenant.LoginLimiter), since that is the limit that protects one
// account from guessing spread over many addresses and replicas.
const (
	// Ten logins per email per quarter hour: plenty for a person, even
	// one who mistypes, and about a thousand guesses a day for an
	// attacker. The window is fixed from the first attempt, so the
	// longest an attacker can lock a user out is one window after their
	// last attempt; API keys and live sessions keep working meanwhile.
	defaultLoginRateLimit = 10
	defaultLoginWindow    = 15 * time.Minute

	// How long a login or sign-up waits for a hashing slot before 429: a
	// hash takes 30-50 ms, so a burst of real users drains well within it.
	passwordGateWait = 500 * time.Millisecond

	// maxClients bounds each per-address table: under 10 MB each. An
	// attacker with more addresses than this evicts buckets and starts
	// fresh, which the password gate and the email limit still bound.
	maxClients = 100_000
)

var (
	// 20 failed logins per address, then one every 30 s: room for an
	// office behind one NAT to mistype, but one address sprays at most
	// two passwords a minute across all emails.
	defaultLoginIPRate = throttle.Rate{Burst: 20, Per: 10 * time.Minute}

	// 10 unknown API keys or session cookies per address, then one every
	// 6 s. Each costs a Postgres look-up; a client with a revoked key
	// learns it from the first 401. A valid key from an address in this
	// state waits too: the address is only checked before the database
	// can tell keys apart.
	defaultCredentialIPRate = throttle.Rate{Burst: 10, Per: time.Minute}

	// 5 sign-ups per address, then one every 12 minutes: a person signs
	// up once, a script creating accounts (or probing which emails are
	// taken) is held to a trickle.
	defaultSignupIPRate = throttle.Rate{Burst: 5, Per: time.Hour}
)

// passwordSlots is the default bound on concurrent password hashing. An
// argon2id hash (auth.HashPassword) runs on one core and holds 19 MiB, so
// more at once than the cores Go may use adds memory and latency, not
// throughput; and four at most (76 MiB) keeps a replica on a large node
// without a CPU limit inside a 512 MiB memory limit and leaves cores for
// the rest of the API.
func passwordSlots() int { return min(runtime.GOMAXPROCS(0), 4) }

// setLimits fills in the default abuse limits and makes their tables.
func (s *server) setLimits() {
	o := &s.Options
	if o.LoginRateLimit <= 0 {
		o.LoginRateLimit = defaultLoginRateLimit
	}
	if o.LoginWindow <= 0 {
		o.LoginWindow = defaultLoginWindow
	}
	orDefault := func(r *throttle.Rate, def throttle.Rate) {
		if r.Burst <= 0 || r.Per <= 0 {
			*r = def
		}
	}
	orDefault(&o.LoginIPRate, defaultLoginIPRate)
	orDefault(&o.CredentialIPRate, defaultCredentialIPRate)
	orDefault(&o.SignupIPRate, defaultSignupIPRate)
	if o.PasswordGate == nil {
		o.PasswordGate = throttle.NewGate(passwordSlots(), passwordGateWait)
	}
	s.failedLogins = throttle.NewBuckets[netip.Addr](o.LoginIPRate, maxClients, nil)
	s.unknownCredentials = throttle.NewBuckets[netip.Addr](o.CredentialIPRate, maxClients, nil)
	s.signups = throttle.NewBuckets[netip.Addr](o.SignupIPRate, maxClients, nil)
}

// retryAfter answers 429 with Retry-After: wait in whole seconds, at least
// one.
func retryAfter(c echo.Context, wait time.Duration, reason, msg string) error {
	secs := int(math.Ceil(wait.Seconds()))
	c.Response().Header().Set("Retry-After", strconv.Itoa(max(1, secs)))
	return errkind.New(errkind.RateLimited, reason, msg)
}

// tooManyRequests answers 429 with the seconds until a window resets.
func tooManyRequests(c echo.Context, reset time.Time, reason, msg string) error {
	return retryAfter(c, time.Until(reset), reason, msg)
}

// passwordBusy answers a login or sign-up that found no hashing slot. One
// second: the slots turn over every few tens of milliseconds.
func passwordBusy(c echo.Context) error {
	return retryAfter(c, time.Second, "password_busy", "too many logins and sign-ups at once; try again in a moment")
}

// unknownCredentialsWait refuses a request from an address that sent too
// many unknown credentials lately, before any database look-up; nil lets
// it through.
func (s *server) unknownCredentialsWait(c echo.Context, client netip.Addr) error {
	if wait := s.unknownCredentials.Wait(client); wait > 0 {
		return retryAfter(c, wait, "unknown_credentials_limited", "too many requests with unknown credentials from this address; wait and try again")
	}
	return nil
}

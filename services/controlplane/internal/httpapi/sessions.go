package httpapi

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"pictor/services/controlplane/internal/auth"
	"pictor/services/controlplane/internal/tenant"
	"pictor/services/internal/errkind"
)

// sessionSecretBytes is the entropy of a session cookie: 256 bits.
const sessionSecretBytes = 32

// cookieName is the session cookie's name. Behind TLS it carries the
// __Host- prefix, which browsers only accept on a Secure, host-only,
// Path=/ cookie: a sibling subdomain cannot plant or shadow it.
func (s *server) cookieName() string {
	if s.SecureCookies {
		return "__Host-pictor_session"
	}
	return "pictor_session"
}

// newSessionSecret returns a cookie value and the digest stored for it.
func newSessionSecret() (string, []byte) {
	b := make([]byte, sessionSecretBytes)
	rand.Read(b) // never fails: crypto/rand crashes the program instead
	v := base64.RawURLEncoding.EncodeToString(b)
	d := sha256.Sum256([]byte(v))
	return v, d[:]
}

// sessionDigest returns the stored digest of a well-formed cookie value.
func sessionDigest(v string) ([]byte, bool) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(v)
	if err != nil || len(b) != sessionSecretBytes {
		return nil, false
	}
	d := sha256.Sum256([]byte(v))
	return d[:], true
}

func (s *server) setSessionCookie(c echo.Context, value string, expires time.Time) {
	c.SetCookie(&http.Cookie{
		Name:     s.cookieName(),
		Value:    value,
		Path:     "/",
		Expires:  expires,
		MaxAge:   int(time.Until(expires).Seconds()),
		HttpOnly: true,
		Secure:   s.SecureCookies,
		SameSite: http.SameSiteLaxMode,
	})
}

func (s *server) clearSessionCookie(c echo.Context) {
	c.SetCookie(&http.Cookie{
		Name: s.cookieName(), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.SecureCookies, SameSite: http.SameSiteLaxMode,
	})
}

// startSession stores a new session for user and sets its cookie.
func (s *server) startSession(c echo.Context, accountID, userID string) error {
	value, digest := newSessionSecret()
	expires := time.Now().Add(s.SessionTTL)
	caller := tenant.Caller{Actor: "user:" + userID, RequestID: requestIDOf(c)}
	err := s.Store.CreateSession(c.Request().Context(), caller, tenant.NewSession{
		Digest: digest, AccountID: accountID, UserID: userID, ExpiresAt: expires,
	})
	if err != nil {
		return err
	}
	s.setSessionCookie(c, value, expires)
	return nil
}

// dummyHash is verified against when the email is unknown or has no
// password, so a login takes as long whether or not the account exists.
var dummyHash = sync.OnceValue(func() string { return auth.HashPassword("pictor timing equaliser") })

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type meJSON struct {
	Account accountJSON `json:"account"`
	Email   string      `json:"email"`
}

func wrongLogin() error {
	return errkind.New(errkind.Unauthorized, "bad_login", "wrong email or password")
}

// login checks an email and password and starts a session. Every attempt
// costs the same whether or not the email has an account (one count, one
// look-up, one hash), so neither the answer, its timing nor a 429 tells
// which emails exist.
func (s *server) login(c echo.Context) error {
	client := s.clientKey(c.Request())
	if wait := s.failedLogins.Wait(client); wait > 0 {
		return retryAfter(c, wait, "login_address_limited", "too many failed logins from this address; wait and try again")
	}
	var req loginRequest
	if err := s.decodeJSON(c, &req); err != nil {
		return err
	}
	if err := tenant.CheckEmail("email", req.Email); err != nil {
		return err
	}
	if req.Password == "" || len(req.Password) > tenant.MaxPasswordLen {
		return errkind.InvalidField("password", "password is required")
	}
	user, err := s.checkLogin(c, client, req)
	if err != nil {
		return err
	}
	if user.AccountStatus != tenant.StatusActive {
		return errkind.New(errkind.Forbidden, "account_suspended", "this account is suspended")
	}
	if err := s.startSession(c, user.AccountID, user.ID); err != nil {
		return err
	}
	acct, err := s.Store.Account(c.Request().Context(), tenant.Caller{AccountID: user.AccountID, Actor: "user:" + user.ID, RequestID: requestIDOf(c)})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, meJSON{Account: toAccountJSON(acct), Email: user.Email})
}

// checkLogin returns the user whose password req carries, holding a
// hashing slot meanwhile. The attempt is counted against the email before
// the password is checked, so guesses in flight together are all counted,
// and forgiven once it proves right. Failures count against the client's
// address too; a full gate is the server's state, not the client's fault.
func (s *server) checkLogin(c echo.Context, client netip.Addr, req loginRequest) (tenant.User, error) {
	ctx := c.Request().Context()
	release, entered := s.PasswordGate.Enter(ctx)
	if !entered {
		return tenant.User{}, passwordBusy(c)
	}
	defer release()
	fail := func(err error) (tenant.User, error) {
		s.failedLogins.Spend(client)
		return tenant.User{}, err
	}
	digest := tenant.LoginDigest(req.Email)
	attempts, reset, err := s.Store.CountLoginAttempt(ctx, digest, s.LoginWindow)
	if err != nil {
		return tenant.User{}, err
	}
	if attempts > s.LoginRateLimit {
		return fail(tooManyRequests(c, reset, "login_email_limited", "too many login attempts for this email; wait and try again"))
	}
	user, err := s.Store.FindUserByEmail(ctx, req.Email)
	if errkind.KindOf(err) == errkind.NotFound {
		auth.VerifyPassword(req.Password, dummyHash())
		return fail(wrongLogin())
	}
	if err != nil {
		return tenant.User{}, err
	}
	hash := user.PasswordHash
	if hash == "" {
		hash = dummyHash()
	}
	ok, err := auth.VerifyPassword(req.Password, hash)
	if err != nil {
		s.Log.Error("stored password hash is unreadable", "user_id", user.ID, "err", err)
	}
	if !ok || user.PasswordHash == "" {
		return fail(wrongLogin())
	}
	if err := s.Store.ForgiveLoginAttempt(ctx, digest); err != nil {
		// The password was right: the login stands, the attempt stays
		// counted.
		s.Log.Warn("forgive login attempt", "request_id", requestIDOf(c), "err", err)
	}
	return user, nil
}

// logout ends the cookie's session. A cookie the database does not know
// (forged, or expired) ends nothing: it writes no audit row and counts as
// an unknown credential of its address.
func (s *server) logout(c echo.Context) error {
	if cookie, err := c.Cookie(s.cookieName()); err == nil {
		if digest, ok := sessionDigest(cookie.Value); ok {
			if err := s.endSession(c, digest); err != nil {
				return err
			}
		}
	}
	s.clearSessionCookie(c)
	return c.NoContent(http.StatusNoContent)
}

func (s *server) endSession(c echo.Context, digest []byte) error {
	client := s.clientKey(c.Request())
	if err := s.unknownCredentialsWait(c, client); err != nil {
		return err
	}
	ctx := c.Request().Context()
	sess, err := s.Store.FindSession(ctx, digest)
	switch {
	case errkind.KindOf(err) == errkind.Unauthorized:
		s.unknownCredentials.Spend(client)
		return nil
	case err != nil:
		return err
	}
	caller := tenant.Caller{AccountID: sess.AccountID, Actor: "user:" + sess.UserID, RequestID: requestIDOf(c)}
	return s.Store.DeleteSession(ctx, caller, digest)
}

func (s *server) me(c echo.Context) error {
	sess, _ := c.Get(ctxSession).(tenant.Session)
	acct, err := s.Store.Account(c.Request().Context(), callerOf(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, meJSON{Account: toAccountJSON(acct), Email: sess.Email})
}

type signupRequest struct {
	AccountID string `json:"accountId"`
	Name      string `json:"name"`
	Email     string `json:"email"`
	Password  string `json:"password"`
}

// signup creates an account as the admin API does, its owner with a
// password, and logs the owner in.
func (s *server) signup(c echo.Context) error {
	if !s.SignupEnabled {
		return errkind.New(errkind.Forbidden, "signup_disabled", "sign-up is disabled on this Pictor; ask an administrator for an account")
	}
	client := s.clientKey(c.Request())
	if wait := s.signups.Wait(client); wait > 0 {
		return retryAfter(c, wait, "signup_address_limited", "too many sign-ups from this address; wait and try again")
	}
	var req signupRequest
	if err := s.decodeJSON(c, &req); err != nil {
		return err
	}
	if err := tenant.CheckAccountID(req.AccountID); err != nil {
		return renameField(err, "accountId")
	}
	if err := tenant.CheckName("name", req.Name); err != nil {
		return err
	}
	if err := tenant.CheckEmail("email", req.Email); err != nil {
		return err
	}
	if err := tenant.CheckPassword("password", req.Password); err != nil {
		return err
	}
	// Counted from here, success or not: each attempt now hashes a
	// password and writes, and a conflict would tell which ids and emails
	// are taken. Invalid input above costs nothing and counts nothing.
	s.signups.Spend(client)
	var (
		res    createAccountResponse
		userID string
	)
	err := s.withPasswordSlot(c, func() (err error) {
		res, userID, err = s.newAccount(c, tenant.Caller{Actor: "signup", RequestID: requestIDOf(c)}, req.AccountID, req.Name, req.Email, req.Password)
		return err
	})
	if err != nil {
		return renameField(renameFieldFrom(err, "ownerEmail", "email"), "accountId")
	}
	if err := s.startSession(c, res.Account.ID, userID); err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, res)
}

// withPasswordSlot runs fn, which hashes a password, in a slot of the
// password gate.
func (s *server) withPasswordSlot(c echo.Context, fn func() error) error {
	release, ok := s.PasswordGate.Enter(c.Request().Context())
	if !ok {
		return passwordBusy(c)
	}
	defer release()
	return fn()
}

// renameField makes an error that names the "id" field name field instead:
// the same rule, reached through a differently named input.
func renameField(err error, field string) error {
	return renameFieldFrom(err, "id", field)
}

func renameFieldFrom(err error, from, to string) error {
	var e *errkind.Error
	if errors.As(err, &e) && e.Field == from {
		renamed := *e
		renamed.Field = to
		if renamed.Msg != "" && len(renamed.Msg) >= len(from) && renamed.Msg[:len(from)] == from {
			renamed.Msg = to + renamed.Msg[len(from):]
		}
		return &renamed
	}
	return err
}

package httpapi

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
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

func (s *server) login(c echo.Context) error {
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
	ctx := c.Request().Context()
	user, err := s.Store.FindUserByEmail(ctx, req.Email)
	if errkind.KindOf(err) == errkind.NotFound {
		auth.VerifyPassword(req.Password, dummyHash())
		return wrongLogin()
	}
	if err != nil {
		return err
	}
	// Counted per account before the password is checked: guesses are
	// bounded whether they are right or wrong.
	hits, reset, err := s.Store.Hit(ctx, user.AccountID, "login", s.RateWindow)
	if err != nil {
		return err
	}
	if hits > s.LoginRateLimit {
		return tooManyRequests(c, reset, "too many login attempts for this account; wait and try again")
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
		return wrongLogin()
	}
	if user.AccountStatus != tenant.StatusActive {
		return errkind.New(errkind.Forbidden, "account_suspended", "this account is suspended")
	}
	if err := s.startSession(c, user.AccountID, user.ID); err != nil {
		return err
	}
	acct, err := s.Store.Account(ctx, tenant.Caller{AccountID: user.AccountID, Actor: "user:" + user.ID, RequestID: requestIDOf(c)})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, meJSON{Account: toAccountJSON(acct), Email: user.Email})
}

func (s *server) logout(c echo.Context) error {
	if cookie, err := c.Cookie(s.cookieName()); err == nil {
		if digest, ok := sessionDigest(cookie.Value); ok {
			caller := tenant.Caller{Actor: "session", RequestID: requestIDOf(c)}
			if sess, err := s.Store.FindSession(c.Request().Context(), digest); err == nil {
				caller = tenant.Caller{AccountID: sess.AccountID, Actor: "user:" + sess.UserID, RequestID: caller.RequestID}
			}
			if err := s.Store.DeleteSession(c.Request().Context(), caller, digest); err != nil {
				return err
			}
		}
	}
	s.clearSessionCookie(c)
	return c.NoContent(http.StatusNoContent)
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
	res, userID, err := s.newAccount(c, tenant.Caller{Actor: "signup", RequestID: requestIDOf(c)}, req.AccountID, req.Name, req.Email, req.Password)
	if err != nil {
		return renameField(renameFieldFrom(err, "ownerEmail", "email"), "accountId")
	}
	if err := s.startSession(c, res.Account.ID, userID); err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, res)
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

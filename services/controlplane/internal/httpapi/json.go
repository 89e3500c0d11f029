package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"pictor/services/internal/errkind"
)

// decodeJSON reads one JSON object from the request body into v, refusing
// bodies over the limit, malformed JSON, wrong types and trailing data
// with errors that name the problem (and the field, when one is at fault).
// Unknown fields are ignored: ImageKit's SDKs may send fields Pictor does
// not have.
func (s *server) decodeJSON(c echo.Context, v any) error {
	body := http.MaxBytesReader(c.Response(), c.Request().Body, s.BodyLimit)
	dec := json.NewDecoder(body)
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return jsonError(err, s.BodyLimit)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return jsonError(err, s.BodyLimit)
		}
		return errkind.New(errkind.Invalid, "trailing_data", "request body must hold a single JSON object")
	}
	// null, arrays and scalars would decode into a struct without error
	// (null as "nothing sent"): only an object is a request.
	if trimmed := bytes.TrimLeft(raw, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
		return errkind.New(errkind.Invalid, "not_an_object", "request body must be a JSON object")
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return jsonError(err, s.BodyLimit)
	}
	return nil
}

// decodeOptionalJSON is decodeJSON for bodies that may be left out
// altogether (every field optional): no body decodes as {}.
func (s *server) decodeOptionalJSON(c echo.Context, v any) error {
	if c.Request().ContentLength == 0 {
		return nil
	}
	return s.decodeJSON(c, v)
}

func jsonError(err error, limit int64) error {
	var (
		mbe    *http.MaxBytesError
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &mbe):
		return errkind.Wrap(errkind.TooLarge, "body_too_large", fmt.Sprintf("request body is larger than %d bytes", limit), err)
	case errors.Is(err, io.EOF):
		return errkind.New(errkind.Invalid, "empty_body", "request body is empty; send a JSON object")
	case errors.As(err, &syntax):
		return errkind.Wrap(errkind.Invalid, "malformed_json", "malformed JSON at byte "+strconv.FormatInt(syntax.Offset, 10), err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errkind.Wrap(errkind.Invalid, "malformed_json", "malformed JSON: the body ends early", err)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return errkind.Wrap(errkind.Invalid, "not_an_object", "request body must be a JSON object", err)
		}
		// A nested field ("a.b") is reported by the top-level field sent.
		field, _, _ := strings.Cut(typ.Field, ".")
		return &errkind.Error{Kind: errkind.Invalid, Reason: "wrong_type", Field: field,
			Msg: field + ": expected " + jsonTypeName(typ.Type) + ", got " + typ.Value, Err: err}
	}
	return errkind.Wrap(errkind.Invalid, "malformed_json", "malformed JSON", err)
}

func jsonTypeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Pointer:
		return jsonTypeName(t.Elem())
	}
	return "an object"
}

package cases

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Authorizer decides who makes a staff API request. The API calls it for every request and acts
// as the principal it returns; ErrForbidden answers 403 (an account that may not handle cases),
// ErrUnauthorized (or any other error) 401. BearerToken is the ADMIN_TOKEN one; StaffAuthorizer
// serves console sessions and ADMIN_TOKEN behind staff.Store.API, on the same handler.
type Authorizer interface {
	Authorize(r *http.Request) (Principal, error)
}

// ErrUnauthorized is returned by an Authorizer for a request without valid credentials.
var ErrUnauthorized = errors.New("missing or wrong credentials")

// BearerToken authorizes "Authorization: Bearer <token>" as Admin (constant-time compare). An
// empty token authorizes nobody.
type BearerToken string

// Authorize implements Authorizer.
func (t BearerToken) Authorize(r *http.Request) (Principal, error) {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || !tokenEqual(got, string(t)) {
		return Principal{}, ErrUnauthorized
	}
	return Admin, nil
}

// tokenEqual compares the fixed-length SHA-256 digests of the two tokens in constant time, so that
// neither the content nor the length of the configured one leaks; an empty want matches nothing.
func tokenEqual(got, want string) bool {
	if want == "" {
		return false
	}
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// maxBody is the largest request body the API reads.
const maxBody = 64 << 10

// APIHandler serves the staff API over the Service, as the principal auth returns:
//
//	GET  /api/cases?status=&kind=&commune=&overdue=true&cursor=&limit=   {"cases": [...], "next": "..."}
//	POST /api/cases                      {"kind","commune","text","channel","address","lang","application_code"} → 201 the case
//	GET  /api/cases/{code}               the case with its timeline
//	POST /api/cases/{code}/replies       {"text"}        → 201 the event, with its delivery
//	POST /api/cases/{code}/notes         {"text"}        → 201 the event
//	POST /api/cases/{code}/assign        {"to"}          → 200 the event
//	POST /api/cases/{code}/close         {"resolution"}  → 200 the event (409 when already closed)
//	POST /api/cases/{code}/reopen                        → 200 the event (409 when not closed)
//
// Errors are {"error": "..."}: 400 with the reason (bad JSON, empty, oversized or invalid UTF-8
// text, unknown kind or status), 401 without credentials, 403 for a read-only principal's action,
// 404 for an unknown code or a case outside the principal's communes, 409 for a conflict. Lists
// mask the citizen's address; a case read alone shows it.
func (s *Service) APIHandler(auth Authorizer) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/cases", s.handle(auth, func(ctx context.Context, p Principal, r *http.Request, _ []byte) (int, any, error) {
		q := r.URL.Query()
		f := Filter{Status: Status(q.Get("status")), Kind: Kind(q.Get("kind")), Commune: q.Get("commune"), Cursor: q.Get("cursor")}
		switch q.Get("overdue") {
		case "", "false", "0":
		case "true", "1":
			f.Overdue = true
		default:
			return 0, nil, invalid("overdue must be true or false")
		}
		if l := q.Get("limit"); l != "" {
			n, err := strconv.Atoi(l)
			if err != nil {
				return 0, nil, invalid("limit must be a number")
			}
			f.Limit = n
		}
		if f.Commune != "" {
			canon, ok := s.commune(f.Commune)
			if !ok {
				return 0, nil, invalid("unknown commune %q", f.Commune)
			}
			f.Commune = canon
		}
		pg, err := s.List(ctx, p, f)
		return http.StatusOK, pg, err
	}))
	mux.HandleFunc("POST /api/cases", s.handle(auth, func(ctx context.Context, p Principal, _ *http.Request, body []byte) (int, any, error) {
		var n NewCase
		if err := decodeStrict(body, &n); err != nil {
			return 0, nil, err
		}
		if n.Commune != "" {
			canon, ok := s.commune(n.Commune)
			if !ok {
				return 0, nil, invalid("unknown commune %q", n.Commune)
			}
			n.Commune = canon
		}
		if n.Address != "" && s.cfg.NormalizeAddress != nil {
			a, err := s.cfg.NormalizeAddress(n.Channel, n.Address)
			if err != nil {
				return 0, nil, invalid("address: %v", err)
			}
			n.Address = a
		}
		c, err := s.Create(ctx, p, n)
		return http.StatusCreated, c, err
	}))
	mux.HandleFunc("GET /api/cases/{code}", s.handle(auth, func(ctx context.Context, p Principal, r *http.Request, _ []byte) (int, any, error) {
		c, err := s.Get(ctx, p, r.PathValue("code"))
		return http.StatusOK, c, err
	}))
	type textBody struct {
		Text string `json:"text"`
	}
	mux.HandleFunc("POST /api/cases/{code}/replies", s.handle(auth, func(ctx context.Context, p Principal, r *http.Request, body []byte) (int, any, error) {
		var b textBody
		if err := decodeStrict(body, &b); err != nil {
			return 0, nil, err
		}
		ev, err := s.Reply(ctx, p, r.PathValue("code"), b.Text)
		return http.StatusCreated, ev, err
	}))
	mux.HandleFunc("POST /api/cases/{code}/notes", s.handle(auth, func(ctx context.Context, p Principal, r *http.Request, body []byte) (int, any, error) {
		var b textBody
		if err := decodeStrict(body, &b); err != nil {
			return 0, nil, err
		}
		ev, err := s.Note(ctx, p, r.PathValue("code"), b.Text)
		return http.StatusCreated, ev, err
	}))
	mux.HandleFunc("POST /api/cases/{code}/assign", s.handle(auth, func(ctx context.Context, p Principal, r *http.Request, body []byte) (int, any, error) {
		var b struct {
			To string `json:"to"`
		}
		if err := decodeStrict(body, &b); err != nil {
			return 0, nil, err
		}
		ev, err := s.Assign(ctx, p, r.PathValue("code"), b.To)
		return http.StatusOK, ev, err
	}))
	mux.HandleFunc("POST /api/cases/{code}/close", s.handle(auth, func(ctx context.Context, p Principal, r *http.Request, body []byte) (int, any, error) {
		var b struct {
			Resolution string `json:"resolution"`
		}
		if len(strings.TrimSpace(string(body))) > 0 {
			if err := decodeStrict(body, &b); err != nil {
				return 0, nil, err
			}
		}
		ev, err := s.Close(ctx, p, r.PathValue("code"), b.Resolution)
		return http.StatusOK, ev, err
	}))
	mux.HandleFunc("POST /api/cases/{code}/reopen", s.handle(auth, func(ctx context.Context, p Principal, r *http.Request, body []byte) (int, any, error) {
		if len(strings.TrimSpace(string(body))) > 0 {
			var b struct{}
			if err := decodeStrict(body, &b); err != nil {
				return 0, nil, err
			}
		}
		ev, err := s.Reopen(ctx, p, r.PathValue("code"))
		return http.StatusOK, ev, err
	}))
	mux.HandleFunc("/api/cases/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such endpoint"})
	})
	return mux
}

type apiFunc func(ctx context.Context, p Principal, r *http.Request, body []byte) (int, any, error)

// handle authorizes, reads the body (at most maxBody, valid UTF-8), runs fn and writes its
// answer or its error.
func (s *Service) handle(auth Authorizer, fn apiFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := auth.Authorize(r)
		if errors.Is(err, ErrForbidden) {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "this account does not handle cases"})
			return
		}
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gateway"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": ErrUnauthorized.Error()})
			return
		}
		var body []byte
		if r.Body != nil {
			body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
			if err != nil {
				var tooBig *http.MaxBytesError
				if errors.As(err, &tooBig) {
					writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": fmt.Sprintf("body over %d bytes", maxBody)})
					return
				}
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "cannot read the body"})
				return
			}
		}
		if !utf8.Valid(body) {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "the body is not valid UTF-8 text"})
			return
		}
		status, v, err := fn(r.Context(), p, r, body)
		if err != nil {
			writeError(w, err)
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrConflict) && !errors.Is(err, ErrForbidden) {
				s.log.Error("cases API", "path", r.URL.Path, "err", err)
			}
			return
		}
		writeJSON(w, status, v)
	}
}

// decodeStrict reads one JSON object into v: unknown fields and trailing data are errors, and a
// JSON escape that is not a character (a lone surrogate such as \udc00) is refused rather than
// turned into U+FFFD.
func decodeStrict(body []byte, v any) error {
	if strings.Contains(strings.ToLower(string(body)), `\ud`) && hasLoneSurrogate(string(body)) {
		return invalid("the JSON holds an escape that is not valid UTF-8 text")
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalid("bad JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalid("bad JSON: trailing data after the object")
	}
	return nil
}

// hasLoneSurrogate reports a \uD800-\uDFFF escape that is not part of a high+low pair.
func hasLoneSurrogate(s string) bool {
	low := strings.ToLower(s)
	for i := 0; i+6 <= len(low); i++ {
		if low[i] != '\\' || low[i+1] != 'u' {
			continue
		}
		if i > 0 && low[i-1] == '\\' {
			continue
		}
		v, err := strconv.ParseUint(low[i+2:i+6], 16, 32)
		if err != nil {
			continue
		}
		switch {
		case v >= 0xd800 && v <= 0xdbff:
			if i+12 > len(low) || low[i+6] != '\\' || low[i+7] != 'u' {
				return true
			}
			w, err := strconv.ParseUint(low[i+8:i+12], 16, 32)
			if err != nil || w < 0xdc00 || w > 0xdfff {
				return true
			}
			i += 11
		case v >= 0xdc00 && v <= 0xdfff:
			return true
		}
	}
	return false
}

func writeError(w http.ResponseWriter, err error) {
	status, msg := http.StatusInternalServerError, "internal error"
	switch {
	case errors.Is(err, ErrInvalid):
		status, msg = http.StatusBadRequest, strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": ")
	case errors.Is(err, ErrNotFound):
		status, msg = http.StatusNotFound, ErrNotFound.Error()
	case errors.Is(err, ErrConflict):
		status, msg = http.StatusConflict, strings.TrimPrefix(err.Error(), ErrConflict.Error()+": ")
	case errors.Is(err, ErrForbidden):
		status, msg = http.StatusForbidden, "not allowed for this account"
	}
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

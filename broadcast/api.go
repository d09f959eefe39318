package broadcast

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
)

// APIHandler serves the staff API, for callers presenting "Authorization: Bearer <adminToken>":
//
//	POST   /api/broadcasts          create (202 {"id", "recipients", "sms_segments", ...})
//	POST   /api/broadcasts/preview  the same checks and counts, nothing created (200)
//	GET    /api/broadcasts/{id}     delivery report (200)
//	DELETE /api/broadcasts/{id}     cancel (200 with the report; 409 when already done)
//
// Errors are JSON {"error": "..."}: 400 for bad JSON or an invalid broadcast (unknown commune or
// category, empty text, SMS over budget), 401 without the right token, 404 for an unknown id.
// An empty adminToken disables the API (every request gets 404).
func (s *Service) APIHandler(adminToken string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/broadcasts", func(w http.ResponseWriter, r *http.Request) {
		req, ok := decode(w, r)
		if !ok {
			return
		}
		pv, err := s.Create(r.Context(), req)
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusAccepted, pv)
	})
	mux.HandleFunc("POST /api/broadcasts/preview", func(w http.ResponseWriter, r *http.Request) {
		req, ok := decode(w, r)
		if !ok {
			return
		}
		pv, err := s.Preview(r.Context(), req)
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, pv)
	})
	mux.HandleFunc("GET /api/broadcasts/{id}", func(w http.ResponseWriter, r *http.Request) {
		rep, err := s.Report(r.Context(), r.PathValue("id"))
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, rep)
	})
	mux.HandleFunc("DELETE /api/broadcasts/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if err := s.Cancel(r.Context(), id); err != nil {
			writeErr(w, err)
			return
		}
		rep, err := s.Report(r.Context(), id)
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, rep)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if adminToken == "" {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "staff API disabled (ADMIN_TOKEN unset)"})
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(adminToken)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gateway"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong bearer token"})
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// decode reads a Request strictly (unknown fields are errors), at most 64 KiB.
func decode(w http.ResponseWriter, r *http.Request) (Request, bool) {
	var req Request
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	err := dec.Decode(&req)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			err = errors.New("trailing data after the JSON object")
		}
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad JSON: " + err.Error()})
		return req, false
	}
	return req, true
}

func writeErr(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	msg := "internal error"
	switch {
	case errors.Is(err, ErrInvalid):
		status, msg = http.StatusBadRequest, err.Error()
	case errors.Is(err, ErrNotFound):
		status, msg = http.StatusNotFound, err.Error()
	case errors.Is(err, ErrFinished):
		status, msg = http.StatusConflict, err.Error()
	}
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

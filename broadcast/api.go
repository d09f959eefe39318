package broadcast

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/socialaid-vn/gateway/staff"
)

// APIHandler serves the staff API for machines presenting "Authorization: Bearer <adminToken>"
// (constant-time compare), acting as an admin; an empty adminToken disables it (404). The
// gateway itself mounts Handler behind staff.Store.API, which also admits console sessions.
func (s *Service) APIHandler(adminToken string) http.Handler {
	h := s.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if adminToken == "" {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "staff API disabled (ADMIN_TOKEN unset)"})
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !staff.TokenEqual(got, adminToken) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gateway"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong bearer token"})
			return
		}
		p := &staff.Principal{Username: "admin-token", Role: staff.Admin, Machine: true}
		h.ServeHTTP(w, r.WithContext(staff.WithPrincipal(r.Context(), p)))
	})
}

// Handler serves the staff API for the principal an outer handler put in the request's context
// (staff.FromContext; without one every request is 401):
//
//	GET    /api/broadcasts          the newest broadcasts ({"broadcasts":[report...]}, ?limit=)
//	POST   /api/broadcasts          create (202 {"id", "recipients", "sms_segments", ...})
//	POST   /api/broadcasts/preview  the same checks and counts, nothing created (200)
//	GET    /api/broadcasts/{id}     delivery report (200)
//	DELETE /api/broadcasts/{id}     cancel (200 with the report; 409 when already done)
//
// Creating, previewing and cancelling need the broadcast permission for every commune of the
// audience (an audience of everyone: every commune); an officer's request that names no commune
// or another commune's is 403. Reports and the list show only broadcasts whose communes the
// principal covers; another commune's broadcast is 404, as if it did not exist. Errors are JSON
// {"error": "..."}: 400 for bad JSON or an invalid broadcast (unknown commune or category, empty
// text, SMS over budget), 404 for an unknown id.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	create := func(preview bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			p := staff.FromContext(r.Context())
			req, ok := decode(w, r)
			if !ok {
				return
			}
			if err := p.Allow(staff.Broadcast, req.Audience.Communes); err != nil {
				writeJSON(w, http.StatusForbidden, map[string]string{"error": err.Error()})
				return
			}
			req.By = p.Username
			if preview {
				pv, err := s.Preview(r.Context(), req)
				if err != nil {
					writeErr(w, err)
					return
				}
				writeJSON(w, http.StatusOK, pv)
				return
			}
			pv, err := s.Create(r.Context(), req)
			if err != nil {
				writeErr(w, err)
				return
			}
			writeJSON(w, http.StatusAccepted, pv)
		}
	}
	mux.HandleFunc("POST /api/broadcasts", create(false))
	mux.HandleFunc("POST /api/broadcasts/preview", create(true))
	mux.HandleFunc("GET /api/broadcasts", func(w http.ResponseWriter, r *http.Request) {
		p := staff.FromContext(r.Context())
		n, err := strconv.Atoi(r.URL.Query().Get("limit"))
		if err != nil || n <= 0 || n > 200 {
			n = 50
		}
		list, _, err := s.List(r.Context(), time.Time{}, n, func(rep *Report) bool { return p.CoversAll(rep.Communes) })
		if err != nil {
			writeErr(w, err)
			return
		}
		if list == nil {
			list = []*Report{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"broadcasts": list})
	})
	mux.HandleFunc("GET /api/broadcasts/{id}", func(w http.ResponseWriter, r *http.Request) {
		rep, err := s.ReportFor(r.Context(), staff.FromContext(r.Context()), staff.Figures, r.PathValue("id"))
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, rep)
	})
	mux.HandleFunc("DELETE /api/broadcasts/{id}", func(w http.ResponseWriter, r *http.Request) {
		p := staff.FromContext(r.Context())
		id := r.PathValue("id")
		if _, err := s.ReportFor(r.Context(), p, staff.Broadcast, id); err != nil {
			writeErr(w, err)
			return
		}
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
		p := staff.FromContext(r.Context())
		if p == nil {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "not signed in"})
			return
		}
		if !p.Can(staff.Figures) {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "your role does not allow this"})
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// ReportFor is Report for principal p wanting to do a on the broadcast: a broadcast p may not
// act on (its communes are not all p's, or p's role lacks a) is ErrNotFound, so that other
// communes' broadcasts cannot even be probed.
func (s *Service) ReportFor(ctx context.Context, p *staff.Principal, a staff.Action, id string) (*Report, error) {
	rep, err := s.Report(ctx, id)
	if err != nil {
		return nil, err
	}
	if p.Allow(a, rep.Communes) != nil {
		return nil, ErrNotFound
	}
	return rep, nil
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
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "body over 64 KiB"})
		return req, false
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

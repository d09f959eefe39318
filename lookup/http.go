package lookup

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
)

// MaxChangesBody is the largest change-event request body ChangesHandler accepts.
const MaxChangesBody = 10 << 20

// MaxListed bounds the results ChangesHandler lists: every line's result for the first
// MaxListed lines, and beyond them the rejected lines only, up to MaxListed of them; Omitted
// counts the results left out (their lines are counted in the totals all the same). A body of
// millions of tiny lines so gets an answer of bounded size, and the handler's memory stays flat.
const MaxListed = 10_000

// ChangesResponse is ChangesHandler's answer: the counts and the results of the lines (see
// MaxListed).
type ChangesResponse struct {
	Imported      int         `json:"imported"`
	Unchanged     int         `json:"unchanged"`
	Rejected      int         `json:"rejected"`
	StatusChanges int         `json:"status_changes"`
	Results       []RowResult `json:"results"`
	Omitted       int         `json:"omitted,omitempty"`
}

// ChangesHandler serves POST /api/applications: the system of record pushes changed
// applications as NDJSON (one JSON object per line, the fields of the applications file). Each
// line is validated and versioned exactly like an import (an equal or older updated_at is
// unchanged; a status change appends one event to ChangesStream), and the response lists the
// lines' results (all of them up to MaxListed lines), sorted by line.
//
// Only requests with "Authorization: Bearer <adminToken>" are served (compared in constant
// time); others get 401. With an empty adminToken every request gets 404 (staff API disabled).
// Bodies over MaxChangesBody get 413 and nothing is written. 200 is returned even when lines
// were rejected; a Redis failure gives 503 and the lines written before it stay written (a
// retry is safe: they come back unchanged).
func (s *Store) ChangesHandler(adminToken string) http.Handler {
	want := sha256.Sum256([]byte("Bearer " + adminToken))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if adminToken == "" {
			http.NotFound(w, r)
			return
		}
		got := sha256.Sum256([]byte(r.Header.Get("Authorization")))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gateway"`)
			httpError(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			httpError(w, http.StatusMethodNotAllowed, "use POST")
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != "" && !strings.Contains(ct, "json") && !strings.HasPrefix(ct, "text/plain") {
			httpError(w, http.StatusUnsupportedMediaType, "send application/x-ndjson")
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxChangesBody))
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			httpError(w, http.StatusRequestEntityTooLarge, "body larger than 10 MiB: split it")
			return
		}
		if err != nil {
			httpError(w, http.StatusBadRequest, "cannot read body")
			return
		}
		resp := ChangesResponse{Results: []RowResult{}}
		rejectedListed := 0
		sum, err := s.importApplications(r.Context(), bytes.NewReader(body), FormatJSONL,
			ImportOptions{Each: func(rr RowResult) {
				switch {
				case rr.Line <= MaxListed:
				case rr.Result == ResultRejected && rejectedListed < MaxListed:
					rejectedListed++
				default:
					resp.Omitted++
					return
				}
				resp.Results = append(resp.Results, rr)
			}})
		body = nil
		if err != nil {
			slog.Error("lookup: change events", "err", err, "rows_done", sum.Rows())
			httpError(w, http.StatusServiceUnavailable, "storage unavailable; retry later (already written lines will be unchanged)")
			return
		}
		slices.SortFunc(resp.Results, func(a, b RowResult) int { return a.Line - b.Line })
		resp.Imported, resp.Unchanged, resp.Rejected, resp.StatusChanges = sum.Imported, sum.Unchanged, sum.Rejected, sum.StatusChanges
		writeJSON(w, http.StatusOK, resp)
	})
}

func httpError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

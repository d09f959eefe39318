package lookup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf16"
)

// goodRows returns n valid CSV rows with codes TQ-2026-<first+i>.
func goodRows(first, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "TQ-2026-%06d,Phạm Văn Thử,1945-07-08,000000150001,0900000150,Vũ Phúc,elderly,received,2026-03-01T08:00:00+07:00,,,ghi chú\n", first+i)
	}
	return b.String()
}

// An unterminated quote on row 2 costs that row only: the 998 rows after it are imported (before:
// swallowed silently, "1 imported, 1 rejected").
func TestCSVUnterminatedQuoteLosesOneRow(t *testing.T) {
	for _, n := range []int{998, 3} { // past the 64 KiB bound, and ending at the end of the file
		s, _ := newStore(t)
		body := header +
			"TQ-2026-999999,Phạm Văn Thử,1945-07-08,000000150001,0900000150,Vũ Phúc,elderly,received,2026-03-01T08:00:00+07:00,,,\"ghi chú không đóng\n" +
			goodRows(1, n)
		sum := importCSV(t, s, body)
		if sum.Imported != n || sum.Rejected != 1 || sum.Rows() != n+1 {
			t.Errorf("%d rows after the quote: %+v", n, sum)
			continue
		}
		if e := sum.Errors[0]; e.Line != 2 || !strings.Contains(e.Reason, "quote") {
			t.Errorf("rejection %+v", e)
		}
	}
	// A quoted note over several lines is still one row.
	s, _ := newStore(t)
	sum := importCSV(t, s, header+"TQ-2026-000500,Phạm Văn Thử,1945-07-08,000000150001,0900000150,Vũ Phúc,elderly,received,2026-03-01T08:00:00+07:00,,,\"dòng một\r\ndòng \"\"hai\"\"\"\n"+goodRows(501, 2))
	app, _ := s.Get(context.Background(), "TQ-2026-000500")
	if sum.Imported != 3 || app == nil || app.Note != "dòng một\ndòng \"hai\"" {
		t.Errorf("multi-line note: %+v %+v", sum, app)
	}
}

// A CSV line longer than 64 KiB is rejected like a JSONL one, with the rows around it imported,
// and costs no more than the bound.
func TestCSVRowLengthIsCapped(t *testing.T) {
	s, _ := newStore(t)
	long := "TQ-2026-000900,Phạm Văn Thử,1945-07-08,000000150001,0900000150,Vũ Phúc,elderly,received,2026-03-01T08:00:00+07:00,,," + strings.Repeat("x", 8<<20) + "\n"
	body := header + goodRows(0, 1) + long + goodRows(1, 1)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	sum := importCSV(t, s, body)
	if sum.Imported != 2 || sum.Rejected != 1 || sum.Errors[0].Line != 3 || !strings.Contains(sum.Errors[0].Reason, "longer than") {
		t.Errorf("summary %+v", sum)
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 4<<20 {
		t.Errorf("an 8 MiB line cost %d MiB of allocations (bounded at 64 KiB a row)", grew>>20)
	}
}

// Codes and reasons echoed from a file never carry terminal escape sequences.
func TestEchoedTextIsEscaped(t *testing.T) {
	s, _ := newStore(t)
	evil := "TQ\x1b]0;pwned\a\x1b[2J\u202e"
	sum := importCSV(t, s, header+evil+",Phạm Văn Thử,1945-07-08,000000150001,0900000150,Vũ Phúc,elderly,received,2026-03-01T08:00:00+07:00,,,\n")
	if sum.Rejected != 1 {
		t.Fatalf("summary %+v", sum)
	}
	msg := sum.Errors[0].Error()
	if strings.ContainsAny(msg, "\x1b\a\u202e") || !strings.Contains(msg, `\x1b]0;pwned\x07\x1b[2J\u202e`) {
		t.Errorf("echoed %q", msg)
	}
	if got := Printable("Vũ Phúc \"ok\""); got != "Vũ Phúc \"ok\"" {
		t.Errorf("Printable changed plain text: %q", got)
	}
}

// A UTF-8 byte-order mark on the first JSONL line is accepted (as CSV always did).
func TestJSONLByteOrderMark(t *testing.T) {
	s, _ := newStore(t)
	sum, err := s.ImportApplications(context.Background(), strings.NewReader("\ufeff"+jsonRow("TB-7101", "received", "2026-03-01T08:00:00+07:00")+"\n"), FormatJSONL, nil)
	if err != nil || sum.Imported != 1 || sum.Rejected != 0 {
		t.Errorf("%+v %v", sum, err)
	}
}

// A UTF-16 file, with or without its mark, is refused with "save the file as UTF-8".
func TestUTF16IsDetected(t *testing.T) {
	s, _ := newStore(t)
	text := header + goodRows(0, 2)
	enc := func(bom bool) []byte {
		var b bytes.Buffer
		if bom {
			b.Write([]byte{0xff, 0xfe})
		}
		for _, u := range utf16.Encode([]rune(text)) {
			b.WriteByte(byte(u))
			b.WriteByte(byte(u >> 8))
		}
		return b.Bytes()
	}
	for _, bom := range []bool{true, false} {
		for _, format := range []string{FormatCSV, FormatJSONL} {
			_, err := s.ImportApplications(context.Background(), bytes.NewReader(enc(bom)), format, nil)
			if !errors.Is(err, ErrUTF16) || !strings.Contains(err.Error(), "save the file as UTF-8") {
				t.Errorf("bom %v %s: %v", bom, format, err)
			}
		}
	}
}

// POST /api/applications with a 10 MiB body of "{}" lines answers with bounded results and
// keeps memory flat (before: the process grew to 2 GB and answered 313 MB).
func TestChangesHandlerManyTinyLines(t *testing.T) {
	s, _ := newStore(t)
	h := s.ChangesHandler("tok")
	body := strings.Repeat("{}\n", (MaxChangesBody-1)/3)
	lines := strings.Count(body, "\n")
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	req := httptest.NewRequest(http.MethodPost, "/api/applications", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer tok")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	close(stop)
	<-sampled
	var resp ChangesResponse
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || w.Code != http.StatusOK {
		t.Fatalf("status %d, %v", w.Code, err)
	}
	if resp.Rejected != lines || len(resp.Results) > 2*MaxListed || resp.Omitted != lines-len(resp.Results) {
		t.Errorf("rejected %d of %d lines, %d results listed, %d omitted", resp.Rejected, lines, len(resp.Results), resp.Omitted)
	}
	if w.Body.Len() > 4<<20 {
		t.Errorf("answer of %d MiB", w.Body.Len()>>20)
	}
	t.Logf("%d lines: answer %d KiB, peak heap in use %d MiB", lines, w.Body.Len()>>10, peak.Load()>>20)
	if peak.Load() > 400<<20 {
		t.Errorf("peak heap in use %d MiB for a 10 MiB body", peak.Load()>>20)
	}
}

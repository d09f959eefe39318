package lookup

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway/partition"
)

// Summary counts the rows of one import. Imported rows were written (new or newer versions);
// Unchanged rows had an equal or older version already stored; Rejected rows were invalid and
// nothing of them was written. StatusChanges counts the change events appended to
// ChangesStream. Errors lists the first MaxErrors rejected rows.
type Summary struct {
	Imported, Unchanged, Rejected int
	StatusChanges                 int
	Errors                        []RowError
}

// Rows is the number of rows the summary covers.
func (s Summary) Rows() int { return s.Imported + s.Unchanged + s.Rejected }

// RowError says why a row was rejected. Line is the file's line number (the header is line 1
// in CSV); Code is the row's application code when it has one.
type RowError struct {
	Line   int
	Code   string
	Reason string
}

func (e RowError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("line %d (%s): %s", e.Line, e.Code, e.Reason)
	}
	return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
}

// RowResult is the outcome of one row, as ChangesHandler reports it.
type RowResult struct {
	Line   int    `json:"line"`
	Code   string `json:"code,omitempty"`
	Result string `json:"result"` // imported, unchanged or rejected
	Reason string `json:"reason,omitempty"`
}

// Printable escapes what a terminal would act on in a text taken from a file — control
// characters (C0, DEL, C1: "\x1b]0;…\a", "\x1b[2J") and invisible format characters (bidi
// overrides) — as \xNN or \uNNNN, so that echoing a rejected row shows it instead of obeying it.
// Invalid UTF-8 bytes are escaped too.
func Printable(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, "\\x%02x", s[i])
		case r < 0x100 && unicode.IsControl(r):
			fmt.Fprintf(&b, "\\x%02x", r)
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// Row outcomes.
const (
	ResultImported  = "imported"
	ResultUnchanged = "unchanged"
	ResultRejected  = "rejected"
)

// Pipeline shape: the parser fills batches of batchSize rows; `workers` goroutines each send one
// batch per round trip (one script call), so parsing overlaps with Redis work.
const (
	batchSize = 1024
	workers   = 4
	maxLine   = 64 << 10 // longest JSONL line
)

// Formats accepted by the importers.
const (
	FormatCSV   = "csv"
	FormatJSONL = "jsonl"
)

// FormatOf returns the import format for a file name's extension ("" if unknown).
func FormatOf(name string) string {
	n := strings.ToLower(name)
	switch {
	case strings.HasSuffix(n, ".csv"):
		return FormatCSV
	case strings.HasSuffix(n, ".jsonl"), strings.HasSuffix(n, ".ndjson"):
		return FormatJSONL
	}
	return ""
}

// ImportApplications reads applications (CSV with a header, or JSONL with the same field names)
// and writes each valid row in one atomic step: the record replaces the stored one only when its
// updated_at is newer, the phone index follows, and a status change appends one event to
// ChangesStream. Invalid rows and a later row repeating a code are rejected with their line
// number and the rest goes on. Memory stays flat except 12 bytes per row for duplicate
// detection. progress, if not nil, is called from one goroutine with the rows done so far.
// The error is for the import as a whole (unreadable header, Redis down, ctx cancelled); the
// Summary then covers the rows finished before it.
func (s *Store) ImportApplications(ctx context.Context, r io.Reader, format string, progress func(rows int)) (Summary, error) {
	return s.importApplications(ctx, r, format, ImportOptions{Progress: progress})
}

// ImportOptions restrict and observe an import made for a person (the console's uploads).
type ImportOptions struct {
	// Allow, when set, is asked about each valid row's commune (canonical name): a row whose
	// commune it refuses is rejected ("not one of your communes") and nothing of it is written.
	Allow func(commune string) bool
	// Progress is called with the rows done so far; Each with every row's result.
	Progress func(rows int)
	Each     func(RowResult)
}

// ImportApplicationsWith is ImportApplications with options.
func (s *Store) ImportApplicationsWith(ctx context.Context, r io.Reader, format string, o ImportOptions) (Summary, error) {
	return s.importApplications(ctx, r, format, o)
}

// ImportSchedulesWith is ImportSchedules with options.
func (s *Store) ImportSchedulesWith(ctx context.Context, r io.Reader, format string, o ImportOptions) (Summary, error) {
	return s.importSchedules(ctx, r, format, o)
}

// errNotYours rejects a row of a commune the importing person does not cover.
func errNotYours(commune string) error {
	return fmt.Errorf("commune %q is not one of your communes", commune)
}

func (s *Store) importApplications(ctx context.Context, r io.Reader, format string, o ImportOptions) (Summary, error) {
	rows, err := newRowReader(r, format, appFields, optionalAppFields...)
	if err != nil {
		return Summary{}, err
	}
	dup := func(v map[string]string) (string, string) {
		code := clip(strings.TrimSpace(v["code"]))
		key, _ := NormalizeCode(code)
		return key, code
	}
	prep := func(v map[string]string) (job, error) {
		rec, err := s.parseApp(v)
		if err != nil {
			return job{}, err
		}
		if o.Allow != nil && !o.Allow(rec.commune) {
			return job{}, errNotYours(rec.commune)
		}
		return job{
			part:  partition.Of(rec.codeKey),
			key:   appKey(rec.codeKey),
			phone: rec.phone, codeKey: rec.codeKey,
			args: []any{rec.version(), rec.status, rec.encode(), rec.code, rec.updated.Format(time.RFC3339Nano)},
		}, nil
	}
	exec := func(ctx context.Context, jobs []job) ([]int64, error) { return s.writeApps(ctx, jobs) }
	return s.pipeline(ctx, rows, dup, prep, exec, o.Progress, o.Each)
}

// ImportSchedules reads payment sessions (commune,date,start_time,end_time,place,method; CSV or
// JSONL). A session is identified by commune, date and start time: a row with the same identity
// and other content replaces it (imported), the same content is unchanged. Sessions that started
// more than 90 days before now are dropped from the commune as it is written.
func (s *Store) ImportSchedules(ctx context.Context, r io.Reader, format string, progress func(rows int)) (Summary, error) {
	return s.importSchedules(ctx, r, format, ImportOptions{Progress: progress})
}

func (s *Store) importSchedules(ctx context.Context, r io.Reader, format string, o ImportOptions) (Summary, error) {
	rows, err := newRowReader(r, format, scheduleFields)
	if err != nil {
		return Summary{}, err
	}
	dup := func(v map[string]string) (string, string) {
		c, ok := s.Commune(v["commune"])
		if !ok {
			return "", ""
		}
		return c + "\x00" + strings.TrimSpace(v["date"]) + "\x00" + strings.TrimSpace(v["start_time"]), ""
	}
	prep := func(v map[string]string) (job, error) {
		sc, err := s.parseSchedule(v)
		if err != nil {
			return job{}, err
		}
		if o.Allow != nil && !o.Allow(sc.Commune) {
			return job{}, errNotYours(sc.Commune)
		}
		key := scheduleKey(sc.Commune)
		return job{part: partition.Slot(key), key: key, args: []any{sc.Start.Unix(), sc.member()}}, nil
	}
	exec := func(ctx context.Context, jobs []job) ([]int64, error) {
		groups := byPart(jobs)
		calls := make([]partition.Call, len(groups))
		for i, g := range groups {
			c := partition.Call{Script: writeSchedulesScript, Args: []any{s.now().Add(-90 * 24 * time.Hour).Unix()}}
			for _, j := range g.jobs {
				c.Keys = append(c.Keys, j.key)
				c.Args = append(c.Args, j.args...)
			}
			calls[i] = c
		}
		res, err := partition.EvalAll(ctx, s.rdb, nil, calls)
		if err != nil {
			return nil, err
		}
		out := make([]int64, len(jobs))
		for i, g := range groups {
			arr, _ := res[i].([]any)
			if len(arr) != len(g.jobs) {
				return nil, fmt.Errorf("lookup: schedules script returned %d results for %d rows", len(arr), len(g.jobs))
			}
			for k, at := range g.at {
				out[at], _ = arr[k].(int64)
			}
		}
		return out, nil
	}
	return s.pipeline(ctx, rows, dup, prep, exec, o.Progress, o.Each)
}

// job is one valid row on its way to Redis.
type job struct {
	line int
	code string
	part int // the partition (or, for schedules, the slot) that groups jobs into one script
	key  string
	args []any
	// Applications: the record's phone (E.164, or "") and code key.
	phone, codeKey string
}

// group is the jobs of one partition, with their indexes in the batch.
type group struct {
	jobs []job
	at   []int
}

func byPart(jobs []job) []group {
	idx := map[int]int{}
	var out []group
	for i, j := range jobs {
		g, ok := idx[j.part]
		if !ok {
			g = len(out)
			idx[j.part] = g
			out = append(out, group{})
		}
		out[g].jobs = append(out[g].jobs, j)
		out[g].at = append(out[g].at, i)
	}
	return out
}

// rawRow is a row read but not yet validated.
type rawRow struct {
	line int
	code string
	v    map[string]string
}

type batch struct {
	rows []rawRow
}

// pipeline runs read → batches → workers (validate, write) → collector. The reader goroutine
// only splits rows and detects duplicates (dup returns the identity of a row, "" when it has
// none, and the code to report); workers validate with prep and write each batch with exec.
func (s *Store) pipeline(ctx context.Context, rows rowReader,
	dup func(map[string]string) (string, string),
	prep func(map[string]string) (job, error),
	exec func(context.Context, []job) ([]int64, error),
	progress func(int), each func(RowResult)) (Summary, error) {

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	work := make(chan batch, workers)
	results := make(chan []RowResult, workers*2)

	var sum Summary
	collected := make(chan struct{})
	go func() { // collector: the only goroutine touching sum
		defer close(collected)
		lastProgress := 0
		for rs := range results {
			for _, r := range rs {
				// What a file says is echoed to terminals and pages: never raw control bytes.
				r.Code, r.Reason = Printable(r.Code), Printable(r.Reason)
				switch r.Result {
				case ResultImported:
					sum.Imported++
				case ResultUnchanged:
					sum.Unchanged++
				case ResultRejected:
					sum.Rejected++
					if len(sum.Errors) < MaxErrors {
						sum.Errors = append(sum.Errors, RowError{Line: r.Line, Code: r.Code, Reason: r.Reason})
					}
				case "changed":
					sum.Imported++
					sum.StatusChanges++
					r.Result = ResultImported
				}
				if each != nil {
					each(r)
				}
			}
			if progress != nil && sum.Rows()-lastProgress >= 1024 {
				lastProgress = sum.Rows()
				progress(lastProgress)
			}
		}
		if progress != nil && sum.Rows() != lastProgress {
			progress(sum.Rows())
		}
	}()

	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				if ctx.Err() != nil {
					continue // drain
				}
				out := make([]RowResult, 0, len(b.rows))
				jobs := make([]job, 0, len(b.rows))
				for _, r := range b.rows {
					j, err := prep(r.v)
					if err != nil {
						out = append(out, RowResult{Line: r.line, Code: r.code, Result: ResultRejected, Reason: err.Error()})
						continue
					}
					j.line, j.code = r.line, r.code
					jobs = append(jobs, j)
				}
				var codes []int64
				var err error
				if len(jobs) > 0 {
					codes, err = exec(ctx, jobs)
				}
				if err == nil && len(codes) != len(jobs) {
					err = fmt.Errorf("lookup: script returned %d results for %d rows", len(codes), len(jobs))
				}
				if err != nil {
					cancel(fmt.Errorf("lookup: write rows from line %d: %w", jobs[0].line, err))
					continue
				}
				for i, j := range jobs {
					res := ResultUnchanged
					switch codes[i] {
					case 1:
						res = ResultImported
					case 2:
						res = "changed"
					}
					out = append(out, RowResult{Line: j.line, Code: j.code, Result: res})
				}
				results <- out
			}
		}()
	}

	parseErr := func() error {
		seen := map[uint64]uint32{} // duplicate key hash → first line
		cur := batch{rows: make([]rawRow, 0, batchSize)}
		send := func() error {
			if len(cur.rows) == 0 {
				return nil
			}
			select {
			case work <- cur:
			case <-ctx.Done():
				return context.Cause(ctx)
			}
			cur = batch{rows: make([]rawRow, 0, batchSize)}
			return nil
		}
		reject := func(line int, code, reason string) error {
			select {
			case results <- []RowResult{{Line: line, Code: code, Result: ResultRejected, Reason: reason}}:
				return nil
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		}
		for {
			if err := ctx.Err(); err != nil {
				return context.Cause(ctx)
			}
			line, v, rowErr, err := rows.next()
			if err == io.EOF {
				return send()
			}
			if err != nil {
				return err
			}
			if rowErr != nil {
				code := ""
				if v != nil {
					code = clip(strings.TrimSpace(v["code"]))
				}
				if err := reject(line, code, rowErr.Error()); err != nil {
					return err
				}
				continue
			}
			id, code := dup(v)
			if id != "" {
				h := fnv.New64a()
				h.Write([]byte(id))
				d := h.Sum64()
				if first, ok := seen[d]; ok {
					what := "code"
					if code == "" {
						what = "session (commune, date, start_time)"
					}
					if err := reject(line, code, fmt.Sprintf("duplicate %s, first on line %d", what, first)); err != nil {
						return err
					}
					continue
				}
				seen[d] = uint32(line)
			}
			cur.rows = append(cur.rows, rawRow{line: line, code: code, v: v})
			if len(cur.rows) == batchSize {
				if err := send(); err != nil {
					return err
				}
			}
		}
	}()
	close(work)
	wg.Wait()
	close(results)
	<-collected
	slices.SortFunc(sum.Errors, func(a, b RowError) int { return a.Line - b.Line })
	if parseErr != nil {
		return sum, parseErr
	}
	if err := context.Cause(ctx); err != nil {
		return sum, err
	}
	return sum, nil
}

// writeApps writes a batch of applications in one round trip: one script per partition
// (record, change event, code shapes, atomically) and, in the same pipeline, the record's entry
// in the phone index of the phone's partition (an HSET, idempotent: re-importing so repairs an
// index). The index may so briefly name a code whose record is not written (an older version
// rejected as unchanged, or a crash): ByPhone checks the record's own phone, and a second
// round trip, only for the rows concerned, takes such an entry out and removes a phone the
// record no longer has.
func (s *Store) writeApps(ctx context.Context, jobs []job) ([]int64, error) {
	groups := byPart(jobs)
	calls := make([]partition.Call, 0, len(groups)+partition.N)
	for _, g := range groups {
		p := g.jobs[0].part
		shapes := map[string]bool{}
		for _, j := range g.jobs {
			if sh, ok := CodeShape(j.code); ok {
				shapes[sh] = true
			}
		}
		c := partition.Call{Script: writeAppsScript, Keys: make([]string, 2, 2+len(g.jobs)), Args: make([]any, 0, 2+len(shapes)+5*len(g.jobs))}
		c.Keys[0], c.Keys[1] = ChangesStream(p), shapesKey(p)
		c.Args = append(c.Args, ChangesMaxLen, len(shapes))
		for sh := range shapes {
			c.Args = append(c.Args, sh)
		}
		for _, j := range g.jobs {
			c.Keys = append(c.Keys, j.key)
			c.Args = append(c.Args, j.args...)
		}
		calls = append(calls, c)
	}
	// The phone index entries: one HSET per row, in the same pipeline.
	pipe := s.rdb.Pipeline()
	for _, j := range jobs {
		if ph := j.phone; ph != "" {
			pipe.HSet(ctx, phoneKey(ph), phoneField(ph, j.codeKey), "")
		}
	}
	res, err := partition.EvalAll(ctx, s.rdb, pipe, calls)
	if err != nil {
		return nil, err
	}
	out := make([]int64, len(jobs))
	fix := s.rdb.Pipeline()
	for i, g := range groups {
		arr, _ := res[i].([]any)
		if len(arr) != 3*len(g.jobs) {
			return nil, fmt.Errorf("lookup: script returned %d values for %d rows", len(arr), len(g.jobs))
		}
		for k, at := range g.at {
			r, _ := arr[3*k].(int64)
			oldPhone, _ := arr[3*k+1].(string)
			curPhone, _ := arr[3*k+2].(string)
			oldPhone, curPhone = unpackPhone(oldPhone), unpackPhone(curPhone)
			out[at] = r
			ck, newPhone := g.jobs[k].codeKey, g.jobs[k].phone
			if r != 0 && oldPhone != "" && oldPhone != newPhone {
				fix.HDel(ctx, phoneKey(oldPhone), phoneField(oldPhone, ck))
			}
			if r != 0 {
				curPhone = newPhone
			}
			if r == 0 && curPhone != newPhone {
				if newPhone != "" {
					fix.HDel(ctx, phoneKey(newPhone), phoneField(newPhone, ck))
				}
				if curPhone != "" {
					fix.HSet(ctx, phoneKey(curPhone), phoneField(curPhone, ck), "")
				}
			}
		}
	}
	if fix.Len() > 0 {
		if _, err := fix.Exec(ctx); err != nil {
			return nil, fmt.Errorf("lookup: phone index: %w", err)
		}
	}
	return out, nil
}

// writeAppsScript writes a batch of applications of one partition, each atomically and only
// when newer. KEYS[1] = the partition's changes stream, KEYS[2] = its code shapes, KEYS[2+i] =
// record key of row i. ARGV[1] = changes MAXLEN, ARGV[2] = number n of shapes, then n shapes,
// then 5 per row: version (µs), status, packed value, code, updated_at.
// Returns 3 values per row: 0 = unchanged (equal or older version), 1 = written, 2 = written
// and its status changed (one event appended); the phone the record had before ("" when new or
// unchanged); for an unchanged row, the phone the stored record holds ("" otherwise).
var writeAppsScript = redis.NewScript(`
local function num(v)
  if string.byte(v, 1) == 126 then return tonumber(string.sub(v, 2), 36) end
  return tonumber(v)
end
local n = tonumber(ARGV[2])
if n > 0 then redis.call('SADD', KEYS[2], unpack(ARGV, 3, 2 + n)) end
local out = {}
for i = 1, #KEYS - 2 do
  local b = 2 + n + (i - 1) * 5
  local ver, st, val, code, upd = ARGV[b+1], ARGV[b+2], ARGV[b+3], ARGV[b+4], ARGV[b+5]
  local key = KEYS[i + 2]
  local old = redis.call('GET', key)
  local res, ost, oph, cur = 1, nil, '', ''
  if old then
    local ov, s2, p2 = string.match(old, '^([^\31]*)\31([^\31]*)\31([^\31]*)\31')
    if ov and num(ov) then
      if num(ov) >= tonumber(ver) then
        res, cur = 0, p2
      else
        ost, oph = s2, p2
      end
    end
  end
  if res == 1 then
    redis.call('SET', key, val)
    if ost and ost ~= st then
      redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'code', code, 'status', st, 'prev_status', ost, 'updated_at', upd)
      res = 2
    end
  end
  out[#out + 1] = res
  out[#out + 1] = oph
  out[#out + 1] = cur
end
return out
`)

// writeSchedulesScript upserts payment sessions. KEYS[i] = the commune's sorted set of row i.
// ARGV[1] = drop sessions starting before this (unix seconds), then 2 per row: start, member.
// Returns per row 0 = unchanged, 1 = written.
var writeSchedulesScript = redis.NewScript(`
local out = {}
for i = 1, #KEYS do
  local score, member = ARGV[2 * i], ARGV[2 * i + 1]
  local cur = redis.call('ZRANGEBYSCORE', KEYS[i], score, score)
  if #cur == 1 and cur[1] == member then
    out[i] = 0
  else
    redis.call('ZREMRANGEBYSCORE', KEYS[i], score, score)
    redis.call('ZADD', KEYS[i], score, member)
    out[i] = 1
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', '(' .. ARGV[1])
end
return out
`)

// rowReader yields the rows of a file. next returns io.EOF at the end; rowErr is set (with err
// nil) when one row is malformed and reading can go on; err is fatal.
type rowReader interface {
	next() (line int, v map[string]string, rowErr error, err error)
}

// ErrUTF16 is returned for a file saved as UTF-16 (what spreadsheet programs call "Unicode
// text"): it is read as UTF-8 only.
var ErrUTF16 = errors.New("lookup: the file is UTF-16 (\"Unicode text\"): save the file as UTF-8 (CSV UTF-8) and import it again / tệp đang ở dạng UTF-16: hãy lưu lại dưới dạng UTF-8 (CSV UTF-8) rồi nhập lại")

func newRowReader(r io.Reader, format string, fields []string, optional ...string) (rowReader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if head, _ := br.Peek(64); isUTF16(head) {
		return nil, ErrUTF16
	}
	switch strings.ToLower(format) {
	case FormatCSV:
		return newCSVRows(br, fields, optional)
	case FormatJSONL, "ndjson":
		return &jsonRows{br: br, fields: append(slices.Clone(fields), optional...), v: map[string]string{}}, nil
	}
	return nil, fmt.Errorf("lookup: unknown format %q (csv or jsonl)", format)
}

// isUTF16 tells the start of a UTF-16 file: its byte-order mark, or text where every other
// byte is zero (ASCII in UTF-16 without a mark).
func isUTF16(head []byte) bool {
	if bytes.HasPrefix(head, []byte{0xff, 0xfe}) || bytes.HasPrefix(head, []byte{0xfe, 0xff}) {
		return true
	}
	if len(head) < 8 {
		return false
	}
	zeros := bytes.Count(head, []byte{0})
	return zeros*3 >= len(head)
}

// csvRows reads a CSV file row by row with a bound on each row: physical lines are read with
// the same 64 KiB limit as JSONL, and a row is the lines up to the one that closes its quotes.
// A row whose quotes are still open after 64 KiB, or at the end of the file (an unterminated
// quote), is reported and the lines after its first are read again as rows of their own, so a
// stray quote costs one row, never the rest of the file.
type csvRows struct {
	br   *bufio.Reader
	cols []string
	line int        // physical lines read from br
	back []physLine // lines to read again before br
	buf  []byte
	v    map[string]string
	eof  bool
}

type physLine struct {
	n    int
	text string
	long bool // longer than maxLine: its text is dropped
}

func newCSVRows(br *bufio.Reader, fields, optional []string) (*csvRows, error) {
	c := &csvRows{br: br, v: map[string]string{}}
	first, err := c.readRow()
	if err == io.EOF {
		return nil, errors.New("lookup: empty file (want a header line)")
	}
	if err != nil {
		return nil, fmt.Errorf("lookup: header: %w", err)
	}
	header, rowErr := first.fields()
	if rowErr != nil {
		return nil, fmt.Errorf("lookup: header: %w", rowErr)
	}
	seen := map[string]bool{}
	for i, h := range header {
		if i == 0 {
			h = strings.TrimPrefix(h, "\ufeff") // spreadsheet exports start with a BOM
		}
		h = strings.ToLower(strings.TrimSpace(h))
		if !oneOf(h, fields) && !oneOf(h, optional) {
			return nil, fmt.Errorf("lookup: header: unknown column %q (want %s)", clip(h), strings.Join(append(slices.Clone(fields), optional...), ","))
		}
		if seen[h] {
			return nil, fmt.Errorf("lookup: header: column %q twice", h)
		}
		seen[h] = true
		c.cols = append(c.cols, h)
	}
	for _, f := range fields {
		if !seen[f] {
			return nil, fmt.Errorf("lookup: header: missing column %q (want %s)", f, strings.Join(fields, ","))
		}
	}
	return c, nil
}

// physical returns the next physical line (without its line ending), from the lines to read
// again first.
func (c *csvRows) physical() (physLine, error) {
	if len(c.back) > 0 {
		l := c.back[0]
		c.back = c.back[1:]
		return l, nil
	}
	if c.eof {
		return physLine{}, io.EOF
	}
	line, tooLong, err := readLine(c.br, c.buf, maxLine)
	c.buf = line[:0]
	if err != nil && err != io.EOF {
		return physLine{}, fmt.Errorf("read: %w", err)
	}
	if err == io.EOF {
		c.eof = true
		if len(line) == 0 && !tooLong {
			return physLine{}, io.EOF
		}
	}
	c.line++
	if tooLong {
		return physLine{n: c.line, long: true}, nil
	}
	return physLine{n: c.line, text: strings.TrimRight(string(line), "\r\n")}, nil
}

// csvRow is one row's text and its first line, or why it cannot be read.
type csvRow struct {
	line int
	text string
	err  error
}

func (r csvRow) fields() ([]string, error) {
	if r.err != nil {
		return nil, r.err
	}
	return splitCSV(r.text)
}

// splitCSV splits one complete CSV record (RFC 4180: fields separated by commas, a quoted field
// may hold commas, newlines and doubled quotes) with the errors encoding/csv gives.
func splitCSV(rec string) ([]string, error) {
	out := make([]string, 0, 16)
	for i := 0; ; {
		if i < len(rec) && rec[i] == '"' {
			var b strings.Builder
			i++
			for {
				j := strings.IndexByte(rec[i:], '"')
				if j < 0 {
					return nil, csv.ErrQuote
				}
				b.WriteString(rec[i : i+j])
				i += j + 1
				if i < len(rec) && rec[i] == '"' {
					b.WriteByte('"')
					i++
					continue
				}
				break
			}
			out = append(out, strings.ReplaceAll(b.String(), "\r\n", "\n"))
			if i == len(rec) {
				return out, nil
			}
			if rec[i] != ',' {
				return nil, csv.ErrQuote
			}
			i++
			continue
		}
		j := strings.IndexByte(rec[i:], ',')
		field := rec[i:]
		if j >= 0 {
			field = rec[i : i+j]
		}
		if strings.IndexByte(field, '"') >= 0 {
			return nil, csv.ErrBareQuote
		}
		out = append(out, field)
		if j < 0 {
			return out, nil
		}
		i += j + 1
	}
}

// readRow gathers the physical lines of the next row (see csvRows).
func (c *csvRows) readRow() (csvRow, error) {
	for {
		first, err := c.physical()
		if err != nil {
			return csvRow{}, err
		}
		if first.long {
			return csvRow{line: first.n, err: fmt.Errorf("line longer than %d bytes", maxLine)}, nil
		}
		if strings.TrimSpace(first.text) == "" {
			continue // blank lines between rows, as encoding/csv skips them
		}
		text := first.text
		var more []physLine
		for strings.Count(text, `"`)%2 == 1 {
			next, err := c.physical()
			if err == io.EOF || (err == nil && (next.long || len(text)+1+len(next.text) > maxLine)) {
				if err == nil {
					more = append(more, next)
				}
				c.back = append(more, c.back...)
				why := "unterminated quoted field (a \" without its closing \"): the row is left out and the next lines are read as rows"
				if err == nil {
					why = fmt.Sprintf("quoted field still open after %d bytes (a \" without its closing \"?): the row is left out and the next lines are read as rows", maxLine)
				}
				return csvRow{line: first.n, err: errors.New(why)}, nil
			}
			if err != nil {
				return csvRow{}, err
			}
			more = append(more, next)
			text += "\n" + next.text
		}
		return csvRow{line: first.n, text: text}, nil
	}
}

func (c *csvRows) next() (int, map[string]string, error, error) {
	row, err := c.readRow()
	if err == io.EOF {
		return 0, nil, nil, io.EOF
	}
	if err != nil {
		return 0, nil, nil, fmt.Errorf("lookup: %w", err)
	}
	rec, rowErr := row.fields()
	if rowErr != nil {
		return row.line, nil, rowErr, nil
	}
	c.v = make(map[string]string, len(c.cols))
	for i, col := range c.cols {
		if i < len(rec) {
			c.v[col] = rec[i]
		}
	}
	if len(rec) != len(c.cols) {
		return row.line, c.v, fmt.Errorf("%d fields, want %d", len(rec), len(c.cols)), nil
	}
	return row.line, c.v, nil, nil
}

type jsonRows struct {
	br     *bufio.Reader
	fields []string
	line   int
	buf    []byte
	v      map[string]string
}

func (j *jsonRows) next() (int, map[string]string, error, error) {
	for {
		line, tooLong, err := readLine(j.br, j.buf, maxLine)
		j.buf = line[:0]
		if err != nil && err != io.EOF {
			return 0, nil, nil, fmt.Errorf("lookup: read: %w", err)
		}
		if len(line) == 0 && err == io.EOF && !tooLong {
			return 0, nil, nil, io.EOF
		}
		j.line++
		if tooLong {
			return j.line, nil, fmt.Errorf("line longer than %d bytes", maxLine), nil
		}
		line = bytes.TrimSpace(line)
		if j.line == 1 {
			line = bytes.TrimPrefix(line, []byte("\ufeff")) // a BOM, as some editors write
		}
		if len(line) == 0 {
			if err == io.EOF {
				return 0, nil, nil, io.EOF
			}
			continue
		}
		j.v = make(map[string]string, len(j.fields))
		rowErr := j.decode(line)
		return j.line, j.v, rowErr, nil
	}
}

func (j *jsonRows) decode(line []byte) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return fmt.Errorf("not a JSON object: %v", err)
	}
	if dec.More() {
		return errors.New("more than one JSON value on the line")
	}
	var bad error // reported after every good field is copied, so the code can be reported
	for k, val := range m {
		if !oneOf(k, j.fields) {
			bad = fmt.Errorf("unknown field %q", clip(k))
			continue
		}
		switch x := val.(type) {
		case string:
			j.v[k] = x
		case json.Number:
			j.v[k] = x.String()
		case nil:
			j.v[k] = ""
		default:
			bad = fmt.Errorf("field %q: want a string", k)
		}
	}
	return bad
}

// readLine reads one line (without limit on the reader's buffer) into buf; a line longer than
// max is consumed and reported as tooLong.
func readLine(br *bufio.Reader, buf []byte, max int) ([]byte, bool, error) {
	buf = buf[:0]
	tooLong := false
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(chunk) > max {
				tooLong = true
				buf = buf[:0]
			} else {
				buf = append(buf, chunk...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return buf, tooLong, err
	}
}

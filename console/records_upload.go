package console

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/socialaid-vn/gateway/lookup"
)

// MaxUpload is the largest records file accepted (112,000 applications are about 15 MB).
const MaxUpload = 64 << 20

// importResult is what the page shows after an upload: the importer's counts and its per-line
// report of rejected lines.
type importResult struct {
	File    string
	Summary lookup.Summary
	Errors  []lookup.RowError
	More    bool // more rejected lines than shown
}

// recordsUpload imports an applications or schedules file as it arrives (the multipart body is
// streamed into the importer, never held whole): fields "kind" (applications|schedules) then
// "file". An officer's upload writes only the rows of the officer's communes.
func (c *Console) recordsUpload(w http.ResponseWriter, r *http.Request) {
	rc := reqCtx(r)
	d := recordsData{Kind: "applications", Scoped: !rc.p.Everywhere()}
	show := func(status int, msg string) {
		d.Error = msg
		d.Last = c.lastImports(r)
		c.render(w, r, status, "records", view{Title: c.T(r, "records.title"), Nav: "records", Data: d})
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxUpload+64<<10)
	mr, err := r.MultipartReader()
	if err != nil {
		show(http.StatusBadRequest, c.T(r, "records.err_file"))
		return
	}
	var file *multipart.Part
	for file == nil {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			show(http.StatusBadRequest, c.T(r, "records.err_read", "reason", err.Error()))
			return
		}
		switch part.FormName() {
		case "kind":
			b, _ := io.ReadAll(io.LimitReader(part, 32))
			if k := strings.TrimSpace(string(b)); k == "schedules" || k == "applications" {
				d.Kind = k
			}
		case "file":
			if part.FileName() != "" {
				file = part
			}
		}
	}
	if file == nil {
		show(http.StatusBadRequest, c.T(r, "records.err_file"))
		return
	}
	name := path.Base(strings.ReplaceAll(file.FileName(), "\\", "/"))
	format := lookup.FormatOf(name)
	if format == "" {
		show(http.StatusBadRequest, c.T(r, "records.err_format"))
		return
	}
	opts := lookup.ImportOptions{}
	if !rc.p.Everywhere() {
		opts.Allow = rc.p.Covers
	}
	ctx := r.Context()
	var sum lookup.Summary
	if d.Kind == "schedules" {
		sum, err = c.apps.ImportSchedulesWith(ctx, file, format, opts)
	} else {
		sum, err = c.apps.ImportApplicationsWith(ctx, file, format, opts)
	}
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		show(http.StatusRequestEntityTooLarge, c.T(r, "records.err_big"))
		return
	case err != nil && sum.Rows() == 0:
		show(http.StatusBadRequest, c.T(r, "records.err_read", "reason", err.Error()))
		return
	case err != nil:
		// Part of the file was imported before the failure: say so with the counts.
		d.Error = c.T(r, "records.err_read", "reason", err.Error())
	}
	errs := slices.Clone(sum.Errors)
	slices.SortFunc(errs, func(a, b lookup.RowError) int { return a.Line - b.Line })
	const shown = 200
	res := &importResult{File: name, Summary: sum, Errors: errs}
	if len(errs) > shown {
		res.Errors, res.More = errs[:shown], true
	}
	d.Result = res
	rec := importRecord{At: nowFunc(), By: rc.p.Username, Kind: d.Kind, File: name, Imported: sum.Imported,
		Unchanged: sum.Unchanged, Rejected: sum.Rejected, Changes: sum.StatusChanges}
	if !rc.p.Everywhere() {
		rec.Communes = rc.p.Communes
	}
	if b, err := json.Marshal(rec); err == nil {
		bg := context.WithoutCancel(ctx)
		pipe := c.rdb.TxPipeline()
		pipe.LPush(bg, importsKey, b)
		pipe.LTrim(bg, importsKey, 0, 499)
		if _, err := pipe.Exec(bg); err != nil {
			c.log.Warn("console imports record", "err", err)
		}
	}
	c.audit(r, rc.p.Username, "records_import", d.Kind, "file="+name+" imported="+strconv.Itoa(sum.Imported)+
		" unchanged="+strconv.Itoa(sum.Unchanged)+" rejected="+strconv.Itoa(sum.Rejected))
	d.Last = c.lastImports(r)
	c.render(w, r, 0, "records", view{Title: c.T(r, "records.title"), Nav: "records", Data: d})
}

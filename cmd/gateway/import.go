package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/term"

	"github.com/socialaid-vn/gateway/lookup"
)

// cmdImport loads applications or payment schedules into the Redis read model:
//
//	gateway import applications FILE|- [--format csv|jsonl]
//	gateway import schedules FILE|- [--format csv|jsonl]
//
// Rejected rows are listed on stderr with their line numbers; the summary line goes to stdout.
// The exit status is 1 when any row was rejected.
func cmdImport(ctx context.Context, env *environ, args []string) error {
	fl := flag.NewFlagSet("import", flag.ContinueOnError)
	fl.SetOutput(env.stderr)
	format := fl.String("format", "", "csv or jsonl (default: from the file extension)")
	var pos []string
	for {
		if err := fl.Parse(args); err != nil {
			return errUsage
		}
		if fl.NArg() == 0 {
			break
		}
		pos = append(pos, fl.Arg(0))
		args = fl.Args()[1:]
	}
	if len(pos) != 2 || (pos[0] != "applications" && pos[0] != "schedules") {
		return fmt.Errorf("%w: want applications|schedules and a file (- for stdin)", errUsage)
	}
	kind, file := pos[0], pos[1]
	if *format == "" {
		*format = lookup.FormatOf(file)
	}
	if *format != lookup.FormatCSV && *format != lookup.FormatJSONL {
		return fmt.Errorf("%w: cannot tell the format of %q: use --format csv or --format jsonl", errUsage, file)
	}

	cfg, conn, err := offlineRedis(ctx, env, "import", embeddedOnlyInServe)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, communes, err := dataCommunes(cfg)
	if err != nil {
		return err
	}

	var in io.Reader = env.stdin
	var size int64
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			size = st.Size()
		}
		in = f
	}

	store, err := lookup.New(conn.Client, lookup.Options{HashKey: []byte(cfg.LookupHashKey), Communes: communes})
	if err != nil {
		return err
	}

	cr := &countingReader{r: in}
	var progress func(int)
	bar := newProgressBar(env.stderr, size, cr)
	if bar != nil {
		progress = bar.update
	}
	imp := store.ImportApplications
	if kind == "schedules" {
		imp = store.ImportSchedules
	}
	start := time.Now()
	sum, err := imp(ctx, cr, *format, progress)
	elapsed := time.Since(start)
	if bar != nil {
		bar.done()
	}
	for _, e := range sum.Errors {
		fmt.Fprintf(env.stderr, "rejected %v\n", e)
	}
	if more := sum.Rejected - len(sum.Errors); more > 0 {
		fmt.Fprintf(env.stderr, "... and %d more rejected rows\n", more)
	}
	rate := float64(sum.Rows()) / max(elapsed.Seconds(), 1e-9)
	fmt.Fprintf(env.stdout, "%s: %d imported, %d unchanged, %d rejected (%d rows in %.2fs, %.0f rows/s",
		kind, sum.Imported, sum.Unchanged, sum.Rejected, sum.Rows(), elapsed.Seconds(), rate)
	if kind == "applications" {
		fmt.Fprintf(env.stdout, "; %d status changes", sum.StatusChanges)
	}
	fmt.Fprintln(env.stdout, ")")
	if err != nil {
		return fmt.Errorf("stopped after %d rows: %w", sum.Rows(), err)
	}
	if sum.Rejected > 0 {
		return exitError{1}
	}
	return nil
}

// countingReader counts the bytes read, for the progress bar.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// progressBar draws a carriage-return bar on a terminal: the share of the file read (when its
// size is known) and the rows done. It redraws at most ten times a second.
type progressBar struct {
	w     io.Writer
	size  int64
	cr    *countingReader
	start time.Time
	last  time.Time
	rows  int
}

func newProgressBar(w io.Writer, size int64, cr *countingReader) *progressBar {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return &progressBar{w: w, size: size, cr: cr, start: time.Now()}
}

func (b *progressBar) update(rows int) {
	b.rows = rows
	if time.Since(b.last) < 100*time.Millisecond {
		return
	}
	b.last = time.Now()
	b.draw()
}

func (b *progressBar) draw() {
	const width = 30
	line := fmt.Sprintf("%d rows", b.rows)
	if b.size > 0 {
		frac := min(float64(b.cr.n.Load())/float64(b.size), 1)
		filled := int(frac * width)
		line = fmt.Sprintf("[%s%s] %3.0f%% %s", strings.Repeat("#", filled), strings.Repeat(".", width-filled), frac*100, line)
	}
	if s := time.Since(b.start).Seconds(); s > 0 {
		line += fmt.Sprintf(", %.0f rows/s", float64(b.rows)/s)
	}
	fmt.Fprintf(b.w, "\r%s\033[K", line)
}

func (b *progressBar) done() {
	b.draw()
	fmt.Fprintln(b.w)
}

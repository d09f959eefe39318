package lookup

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Paths in the data fs.
const (
	CommunesFile         = "knowledge/communes.csv"
	DemoApplicationsFile = "demo/applications.csv"
	DemoSchedulesFile    = "demo/schedules.csv"
	demoGeneratorFile    = "demo/generator.toml"
)

// ReadCommunes returns the canonical commune names of knowledge/communes.csv in fsys (lines
// starting with # are comments; the header names a "name" column).
func ReadCommunes(fsys fs.FS) ([]string, error) {
	f, err := fsys.Open(CommunesFile)
	if err != nil {
		return nil, fmt.Errorf("lookup: communes: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comment = '#'
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("lookup: %s: header: %w", CommunesFile, err)
	}
	col := -1
	for i, h := range header {
		if strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")) == "name" {
			col = i
		}
	}
	if col < 0 {
		return nil, fmt.Errorf("lookup: %s: no \"name\" column", CommunesFile)
	}
	var out []string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("lookup: %s: %w", CommunesFile, err)
		}
		if col < len(rec) {
			if n := strings.TrimSpace(rec[col]); n != "" {
				out = append(out, n)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("lookup: %s: no communes", CommunesFile)
	}
	return out, nil
}

// LoadDemo imports the demo applications and schedules of fsys (demo/applications.csv,
// demo/schedules.csv; data.Embedded() ships 300 synthetic applications). It fails if any row is
// rejected: demo data must be clean.
func LoadDemo(ctx context.Context, s *Store, fsys fs.FS) error {
	for _, f := range []struct {
		name string
		imp  func(context.Context, io.Reader, string, func(int)) (Summary, error)
	}{{DemoApplicationsFile, s.ImportApplications}, {DemoSchedulesFile, s.ImportSchedules}} {
		raw, err := fs.ReadFile(fsys, f.name)
		if err != nil {
			return fmt.Errorf("lookup: demo: %w", err)
		}
		if f.name == DemoSchedulesFile {
			if raw, err = datesFromToday(raw, s.now()); err != nil {
				return fmt.Errorf("lookup: demo %s: %w", f.name, err)
			}
		}
		sum, err := f.imp(ctx, bytes.NewReader(raw), FormatCSV, nil)
		if err != nil {
			return fmt.Errorf("lookup: demo %s: %w", f.name, err)
		}
		if sum.Rejected > 0 {
			return fmt.Errorf("lookup: demo %s: %d rows rejected, first: %v", f.name, sum.Rejected, sum.Errors[0])
		}
	}
	return nil
}

// datesFromToday turns the demo schedules' relative days ("+3": three days after the load day,
// a Sunday moving to the Monday) into dates, and drops comment lines, so that the demo always
// has coming payment days.
func datesFromToday(raw []byte, now time.Time) ([]byte, error) {
	var keep []string
	for _, l := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			keep = append(keep, l)
		}
	}
	r := csv.NewReader(strings.NewReader(strings.Join(keep, "\n")))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, errors.New("empty file")
	}
	col := -1
	for i, h := range recs[0] {
		if strings.TrimSpace(h) == "date" {
			col = i
		}
	}
	if col < 0 {
		return nil, errors.New(`no "date" column`)
	}
	today := now.In(vnZone)
	today = time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, vnZone)
	for i, rec := range recs[1:] {
		if col >= len(rec) {
			continue
		}
		d := strings.TrimSpace(rec[col])
		rest, ok := strings.CutPrefix(d, "+")
		if !ok {
			continue // a real date
		}
		n, err := strconv.Atoi(rest)
		if err != nil || n < 0 || n > 3660 {
			return nil, fmt.Errorf("line %d: date %q: want YYYY-MM-DD or +DAYS", i+2, d)
		}
		day := today.AddDate(0, 0, n)
		if day.Weekday() == time.Sunday {
			day = day.AddDate(0, 0, 1)
		}
		rec[col] = day.Format("2006-01-02")
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.WriteAll(recs); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// GenerateOptions shapes a synthetic data set.
type GenerateOptions struct {
	Applications int    // how many applications
	Seed         uint64 // same seed, same files
	From         string // first schedule month, "YYYY-MM" ("" = 2026-12)
	Months       int    // schedule months (0 = 7)
}

type vocabulary struct {
	CodePrefix   string                         `toml:"code_prefix"`
	ExampleCode  string                         `toml:"example_code"`
	ExampleLast4 string                         `toml:"example_last4"`
	Family       []string                       `toml:"family"`
	MiddleMale   []string                       `toml:"middle_male"`
	MiddleFemale []string                       `toml:"middle_female"`
	Given        []string                       `toml:"given"`
	Notes        map[string]map[string][]string `toml:"notes"` // status → category (or "any") → notes
	Places       map[string][]string            `toml:"places"`
}

// Generate writes opts.Applications synthetic applications (CSV, the import format) to apps and
// matching payment schedules (three sessions per commune per month: bank transfer, cash, post
// office) to schedules, using the communes and the vocabulary (demo/generator.toml) of fsys.
// Every status and category appears across the communes once there are 104 applications or
// more; names, citizen IDs (000000...) and phones (0900...) are plainly fake. The output
// depends only on fsys and opts.
func Generate(fsys fs.FS, opts GenerateOptions, apps, schedules io.Writer) error {
	if opts.Applications < 0 {
		return errors.New("lookup: generate: negative number of applications")
	}
	communes, err := ReadCommunes(fsys)
	if err != nil {
		return err
	}
	raw, err := fs.ReadFile(fsys, demoGeneratorFile)
	if err != nil {
		return fmt.Errorf("lookup: generate: %w", err)
	}
	var v vocabulary
	if _, err := toml.Decode(string(raw), &v); err != nil {
		return fmt.Errorf("lookup: generate: %s: %w", demoGeneratorFile, err)
	}
	if len(v.Family) == 0 || len(v.MiddleMale) == 0 || len(v.MiddleFemale) == 0 || len(v.Given) == 0 ||
		len(v.Places["cash"]) == 0 || len(v.Places["post"]) == 0 || len(v.Places["bank"]) == 0 {
		return fmt.Errorf("lookup: generate: %s: family, middle_male, middle_female, given and places.{cash,post,bank} must not be empty", demoGeneratorFile)
	}
	from := opts.From
	if from == "" {
		from = "2026-12"
	}
	first, err := time.ParseInLocation("2006-01", from, vnZone)
	if err != nil {
		return fmt.Errorf("lookup: generate: from %q: want YYYY-MM", from)
	}
	months := opts.Months
	if months <= 0 {
		months = 7
	}
	rng := rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x5eed))
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }

	w := csv.NewWriter(apps)
	if err := w.Write(append(slices.Clone(appFields), optionalAppFields...)); err != nil {
		return err
	}
	base := time.Date(2026, 1, 5, 8, 0, 0, 0, vnZone)
	for i := 1; i <= opts.Applications; i++ {
		code := fmt.Sprintf("%s%06d", v.CodePrefix, i)
		status := Statuses[(i+2)%len(Statuses)]
		category := Categories[(i/len(Statuses))%len(Categories)]
		commune := communes[i%len(communes)]
		middle := v.MiddleMale
		if rng.IntN(2) == 0 {
			middle = v.MiddleFemale
		}
		name := pick(v.Family) + " " + pick(middle) + " " + pick(v.Given)
		var born time.Time
		switch category {
		case "elderly", "social_pension":
			born = time.Date(1930+rng.IntN(25), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC)
		case "child":
			born = time.Date(2011+rng.IntN(13), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC)
		default:
			born = time.Date(1960+rng.IntN(40), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC)
		}
		last4 := fmt.Sprintf("%04d", rng.IntN(10000))
		if code == v.ExampleCode && v.ExampleLast4 != "" {
			last4, status = v.ExampleLast4, "paying"
		}
		cid := fmt.Sprintf("000000%02d%s", rng.IntN(100), last4)
		phone := ""
		switch {
		case i%12 == 0: // no phone registered
		case i%10 == 0: // a relative who registered two applications with one phone
			phone = fmt.Sprintf("0900%06d", i-1)
		default:
			phone = fmt.Sprintf("0900%06d", i)
		}
		updated := base.AddDate(0, 0, rng.IntN(290)).Add(time.Duration(rng.IntN(9*60)) * time.Minute) // office hours
		amount, start := "", ""
		switch status {
		case "approved", "paying", "suspended", "stopped":
			amount = strconv.Itoa(demoAmount(category, updated.Year()-born.Year(), rng))
			sm := updated.AddDate(0, 1, 0)
			if status != "approved" {
				sm = updated.AddDate(0, -1-rng.IntN(10), 0)
			}
			start = sm.Format("2006-01")
		}
		note := ""
		ns := v.Notes[status][category]
		if len(ns) == 0 {
			ns = v.Notes[status]["any"]
		}
		if len(ns) > 0 {
			note = pick(ns)
		}
		method := ""
		switch status {
		case "approved", "paying", "suspended":
			method = Methods[i%len(Methods)] // how the person is paid (cash, bank, post)
		}
		if err := w.Write([]string{code, name, born.Format("2006-01-02"), cid, phone, commune, category, status,
			updated.Format(time.RFC3339), amount, start, note, method}); err != nil {
			return err
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}

	w = csv.NewWriter(schedules)
	if err := w.Write(scheduleFields); err != nil {
		return err
	}
	for m := 0; m < months; m++ {
		month := first.AddDate(0, m, 0)
		for ci, commune := range communes {
			day := func(d int) time.Time {
				t := month.AddDate(0, 0, d-1)
				if t.Weekday() == time.Sunday {
					t = t.AddDate(0, 0, 1)
				}
				return t
			}
			place := func(method string) string {
				return strings.ReplaceAll(pick(v.Places[method]), "{commune}", commune)
			}
			cashDay := day(5 + ci%6)
			postDay := cashDay.AddDate(0, 0, 1)
			if postDay.Weekday() == time.Sunday {
				postDay = postDay.AddDate(0, 0, 1)
			}
			rows := [][]string{
				{commune, day(3).Format("2006-01-02"), "08:00", "17:00", place("bank"), "bank"},
				{commune, cashDay.Format("2006-01-02"), "07:30", "11:00", place("cash"), "cash"},
				{commune, postDay.Format("2006-01-02"), "13:30", "16:30", place("post"), "post"},
			}
			if err := w.WriteAll(rows); err != nil {
				return err
			}
		}
	}
	w.Flush()
	return w.Error()
}

// demoAmount is the standard level (500,000 VND) times a coefficient that fits the group and
// the age (groups.csv): 2.5 for an orphan under 4, 1.5 from 4; 1.0 or 2.0 from 80; ...
func demoAmount(category string, age int, rng *rand.Rand) int {
	var coef []int // tenths
	switch category {
	case "elderly":
		coef = []int{15} // 60-80, poor, no supporter
		if age >= 80 {
			coef = []int{10, 20} // no pension; poor with no supporter
		}
	case "disability":
		coef = []int{15, 20} // severe, especially severe
		if age < 16 || age >= 60 {
			coef = []int{20, 25}
		}
	case "child":
		coef = []int{15}
		if age < 4 {
			coef = []int{25}
		}
	case "hiv":
		switch {
		case age < 4:
			coef = []int{25}
		case age < 16:
			coef = []int{20}
		default:
			coef = []int{15}
		}
	case "single_parent":
		coef = []int{10, 20} // one or two children
	default:
		coef = []int{10}
	}
	return 500_000 * coef[rng.IntN(len(coef))] / 10
}

// DemoCodeShapes returns the shapes (CodeShape) of the codes in the demo applications of fsys,
// for tools that classify without a read model (gateway nlu).
func DemoCodeShapes(fsys fs.FS) ([]string, error) {
	f, err := fsys.Open(DemoApplicationsFile)
	if err != nil {
		return nil, fmt.Errorf("lookup: demo: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	seen := map[string]bool{}
	var out []string
	for line := 0; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("lookup: demo: %w", err)
		}
		if line == 0 || len(rec) == 0 {
			continue
		}
		if sh, ok := CodeShape(rec[0]); ok && !seen[sh] {
			seen[sh] = true
			out = append(out, sh)
		}
	}
	return out, nil
}

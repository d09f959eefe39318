package lookup

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
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
		r, err := fsys.Open(f.name)
		if err != nil {
			return fmt.Errorf("lookup: demo: %w", err)
		}
		sum, err := f.imp(ctx, r, FormatCSV, nil)
		r.Close()
		if err != nil {
			return fmt.Errorf("lookup: demo %s: %w", f.name, err)
		}
		if sum.Rejected > 0 {
			return fmt.Errorf("lookup: demo %s: %d rows rejected, first: %v", f.name, sum.Rejected, sum.Errors[0])
		}
	}
	return nil
}

// GenerateOptions shapes a synthetic data set.
type GenerateOptions struct {
	Applications int    // how many applications
	Seed         uint64 // same seed, same files
	From         string // first schedule month, "YYYY-MM" ("" = 2026-12)
	Months       int    // schedule months (0 = 7)
}

type vocabulary struct {
	CodePrefix   string              `toml:"code_prefix"`
	ExampleCode  string              `toml:"example_code"`
	ExampleLast4 string              `toml:"example_last4"`
	Family       []string            `toml:"family"`
	MiddleMale   []string            `toml:"middle_male"`
	MiddleFemale []string            `toml:"middle_female"`
	Given        []string            `toml:"given"`
	Notes        map[string][]string `toml:"notes"`
	Places       map[string][]string `toml:"places"`
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
	if err := w.Write(appFields); err != nil {
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
			amount = strconv.Itoa(demoAmount(category, rng))
			sm := updated.AddDate(0, 1, 0)
			if status != "approved" {
				sm = updated.AddDate(0, -1-rng.IntN(10), 0)
			}
			start = sm.Format("2006-01")
		}
		note := ""
		if ns := v.Notes[status]; len(ns) > 0 {
			note = pick(ns)
		}
		if err := w.Write([]string{code, name, born.Format("2006-01-02"), cid, phone, commune, category, status,
			updated.Format(time.RFC3339), amount, start, note}); err != nil {
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

// demoAmount is the standard level (500,000 VND) times a plausible coefficient for the group.
func demoAmount(category string, rng *rand.Rand) int {
	coef := map[string][]int{ // tenths
		"elderly":        {15, 20, 10},
		"disability":     {15, 20, 25},
		"child":          {15, 25},
		"single_parent":  {10, 20},
		"hiv":            {15, 20},
		"social_pension": {10},
	}[category]
	return 500_000 * coef[rng.IntN(len(coef))] / 10
}

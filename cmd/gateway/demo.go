package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/socialaid-vn/gateway/data"
	"github.com/socialaid-vn/gateway/lookup"
)

// cmdDemo writes synthetic data for trials and benchmarks:
//
//	gateway demo generate --applications N [--out DIR] [--seed S] [--from YYYY-MM] [--months M]
//
// It writes DIR/applications.csv and DIR/schedules.csv (the import formats), the same for the
// same seed, using the communes and the name vocabulary of the data files (DATA_DIR overlays).
func cmdDemo(ctx context.Context, env *environ, args []string) error {
	if len(args) == 0 || args[0] != "generate" {
		return fmt.Errorf("%w: the only demo command is generate", errUsage)
	}
	fl := flag.NewFlagSet("demo generate", flag.ContinueOnError)
	fl.SetOutput(env.stderr)
	n := fl.Int("applications", -1, "number of applications to generate")
	out := fl.String("out", ".", "directory to write applications.csv and schedules.csv into")
	seed := fl.Uint64("seed", 1, "random seed: the same seed gives the same files")
	from := fl.String("from", time.Now().Format("2006-01"), "first month of the payment schedules (YYYY-MM; default: this month)")
	months := fl.Int("months", 7, "number of schedule months")
	if err := fl.Parse(args[1:]); err != nil {
		return errUsage
	}
	if fl.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fl.Arg(0))
	}
	if *n < 0 || *n > 10_000_000 {
		return fmt.Errorf("%w: --applications N is required (0 to 10,000,000)", errUsage)
	}
	if *months < 1 || *months > 60 {
		return fmt.Errorf("%w: --months must be 1 to 60", errUsage)
	}
	fsys, err := data.Open(strings.TrimSpace(env.getenv("DATA_DIR")))
	if err != nil {
		return fmt.Errorf("DATA_DIR: %w", err)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	appsPath := filepath.Join(*out, "applications.csv")
	schedPath := filepath.Join(*out, "schedules.csv")
	apps, err := os.Create(appsPath)
	if err != nil {
		return err
	}
	sched, err := os.Create(schedPath)
	if err != nil {
		apps.Close()
		return err
	}
	gerr := lookup.Generate(fsys, lookup.GenerateOptions{Applications: *n, Seed: *seed, From: *from, Months: *months}, apps, sched)
	if err := errors.Join(gerr, apps.Close(), sched.Close()); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "wrote %d applications to %s and schedules to %s\n", *n, appsPath, schedPath)
	return nil
}

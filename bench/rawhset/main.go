// Command rawhset is the baseline of bench/import.sh: it writes every row of an applications CSV
// as one HSET of its fields (key "raw:<code>"), in pipelines of 256 commands sent by 4
// concurrent workers — the importer's batch size and concurrency — with no validation, hashing
// or versioning, and prints the rate in rows per second.
//
//	go run ./bench/rawhset -addr 127.0.0.1:6379 -db 1 applications.csv
package main

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:6379", "redis address")
	db := flag.Int("db", 0, "database (flushed first)")
	batch := flag.Int("pipeline", 256, "commands per pipeline")
	workers := flag.Int("workers", 4, "concurrent pipelines")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: rawhset [-addr A] [-db N] FILE.csv")
		os.Exit(2)
	}
	if err := run(*addr, *db, *batch, *workers, flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "rawhset:", err)
		os.Exit(1)
	}
}

func run(addr string, db, batchSize, workers int, file string) error {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: addr, DB: db})
	defer rdb.Close()
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		return err
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	cr := csv.NewReader(f)
	header, err := cr.Read()
	if err != nil {
		return err
	}
	start := time.Now()
	work := make(chan [][]string, workers)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rows := range work {
				pipe := rdb.Pipeline()
				for _, rec := range rows {
					args := make([]any, 0, 2*len(rec))
					for i, v := range rec {
						args = append(args, header[i], v)
					}
					pipe.HSet(ctx, "raw:"+rec[0], args...)
				}
				if _, err := pipe.Exec(ctx); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	n := 0
	b := make([][]string, 0, batchSize)
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		b = append(b, rec)
		n++
		if len(b) == batchSize {
			work <- b
			b = make([][]string, 0, batchSize)
		}
	}
	if len(b) > 0 {
		work <- b
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	secs := time.Since(start).Seconds()
	fmt.Printf("raw HSET: %d rows in %.2fs, %.0f rows/s\n", n, secs, float64(n)/secs)
	return nil
}

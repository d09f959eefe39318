package lookup

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway/data"
	"github.com/socialaid-vn/gateway/redisconn/redistest"
)

// benchClient returns a client on a fresh database of the shared real redis-server.
func benchClient(b *testing.B) redis.UniversalClient {
	addr, real := redistest.Addr(b)
	if !real {
		b.Skip("needs a real redis-server on PATH: miniredis figures would mean nothing")
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr, DB: 4000})
	b.Cleanup(func() { rdb.Close() })
	if err := rdb.FlushDB(context.Background()).Err(); err != nil {
		b.Fatal(err)
	}
	return rdb
}

func benchStore(b *testing.B, rdb redis.UniversalClient) *Store {
	communes, err := ReadCommunes(data.Embedded())
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(rdb, Options{HashKey: testKey, Communes: communes})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkVerify measures a verified lookup (one script round trip) against a plain GET of
// the same record on the same server, reporting p50/p99 of both and the p99 ratio.
//
//	go test -run '^$' -bench Verify -benchtime 20000x ./lookup/
func BenchmarkVerify(b *testing.B) {
	rdb := benchClient(b)
	s := benchStore(b, rdb)
	ctx := context.Background()
	if err := LoadDemo(ctx, s, data.Embedded()); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	base := make([]time.Duration, 0, b.N)
	i := 0
	for b.Loop() {
		// A new sender every 4 lookups keeps clear of the lockout; all succeed.
		t0 := time.Now()
		if _, err := s.Verify(ctx, fmt.Sprintf("telegram:%d", i/4), "TB-2025-000123", "4567"); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := rdb.Get(ctx, appKey("TB2025000123")).Err(); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, t1.Sub(t0))
		base = append(base, time.Since(t1))
		i++
	}
	p := func(xs []time.Duration, q float64) float64 {
		slices.Sort(xs)
		return float64(xs[int(q*float64(len(xs)-1))].Microseconds())
	}
	b.ReportMetric(p(lat, 0.50), "p50-µs")
	b.ReportMetric(p(lat, 0.99), "p99-µs")
	b.ReportMetric(p(base, 0.99), "GET-p99-µs")
	b.ReportMetric(p(lat, 0.99)/max(p(base, 0.99), 1), "p99/GET-p99")
}

// BenchmarkImport imports generated applications into a real redis-server and, in the same run,
// writes the same rows as raw pipelined HSETs with the same batch size and concurrency; it
// reports both rates and their ratio (target ≥ 0.25), and the second import's unchanged rows.
//
//	go test -run '^$' -bench Import -benchtime 1x ./lookup/            # 112,000 rows
func BenchmarkImport(b *testing.B) {
	const n = 112_000
	rdb := benchClient(b)
	s := benchStore(b, rdb)
	ctx := context.Background()
	var file bytes.Buffer
	if err := Generate(data.Embedded(), GenerateOptions{Applications: n, Seed: 1}, &file, io.Discard); err != nil {
		b.Fatal(err)
	}
	var importRate, rawRate, unchangedRate float64
	for b.Loop() {
		rdb.FlushDB(ctx)
		t0 := time.Now()
		sum, err := s.ImportApplications(ctx, bytes.NewReader(file.Bytes()), FormatCSV, nil)
		if err != nil || sum.Imported != n {
			b.Fatalf("import: %+v, %v", sum, err)
		}
		importRate = n / time.Since(t0).Seconds()
		t0 = time.Now()
		sum, err = s.ImportApplications(ctx, bytes.NewReader(file.Bytes()), FormatCSV, nil)
		if err != nil || sum.Unchanged != n {
			b.Fatalf("second import: %+v, %v", sum, err)
		}
		unchangedRate = n / time.Since(t0).Seconds()
		rdb.FlushDB(ctx)
		t0 = time.Now()
		if err := RawHSet(ctx, rdb, bytes.NewReader(file.Bytes())); err != nil {
			b.Fatal(err)
		}
		rawRate = n / time.Since(t0).Seconds()
	}
	b.ReportMetric(importRate, "rows/s")
	b.ReportMetric(unchangedRate, "reimport-rows/s")
	b.ReportMetric(rawRate, "raw-HSET/s")
	b.ReportMetric(importRate/rawRate, "ratio")
}

// RawHSet is the import baseline: every CSV row becomes one HSET of its fields under
// "raw:<code>", sent in pipelines of the importer's batch size by the importer's number of
// concurrent workers, with no validation, hashing or versioning.
func RawHSet(ctx context.Context, rdb redis.UniversalClient, r io.Reader) error {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if err != nil {
		return err
	}
	work := make(chan [][]string, workers)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
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
					errs <- err
				}
			}
		}()
	}
	batch := make([][]string, 0, batchSize)
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		batch = append(batch, rec)
		if len(batch) == batchSize {
			work <- batch
			batch = make([][]string, 0, batchSize)
		}
	}
	if len(batch) > 0 {
		work <- batch
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

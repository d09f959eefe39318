package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"time"

	"golang.org/x/term"

	"github.com/socialaid-vn/gateway/audience"
	"github.com/socialaid-vn/gateway/cases"
	"github.com/socialaid-vn/gateway/config"
	"github.com/socialaid-vn/gateway/data"
	"github.com/socialaid-vn/gateway/dialogue"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/knowledge"
	"github.com/socialaid-vn/gateway/lookup"
	"github.com/socialaid-vn/gateway/nlu"
	"github.com/socialaid-vn/gateway/redisconn"
	"github.com/socialaid-vn/gateway/stats"
)

// app is the gateway's parts, built once from the configuration and shared by serve and chat.
type app struct {
	cfg      config.Config
	log      *slog.Logger
	fsys     fs.FS
	cat      *i18n.Catalog
	kb       *knowledge.Base
	nlu      *nlu.Classifier
	communes []string
	conn     *redisconn.Conn
	apps     *lookup.Store
	aud      *audience.Store
	engine   *dialogue.Engine
	cases    *cases.Service
	stats    *stats.Recorder
	// parts are the hash tags the gateway writes to (ready.go).
	parts *partitions
	// persistence is what the Redis server does to keep the records ("" on the embedded demo).
	persistence string
}

// newLogger logs JSON when w is not a terminal (a server under a supervisor), text otherwise.
func newLogger(w io.Writer, level string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// loadData reads and validates every data file: a mistake in a file a department edited stops
// start-up with the file and line named.
func loadData(cfg config.Config) (fs.FS, *i18n.Catalog, *knowledge.Base, *nlu.Classifier, []string, error) {
	fsys, err := data.Open(cfg.DataDir)
	if err != nil {
		return nil, nil, nil, nil, nil, fmt.Errorf("DATA_DIR: %w", err)
	}
	cat, err := i18n.LoadCatalog(fsys)
	if err != nil {
		return nil, nil, nil, nil, nil, err
	}
	kb, err := knowledge.Load(fsys)
	if err != nil {
		return nil, nil, nil, nil, nil, err
	}
	var communes []string
	for _, c := range kb.Communes() {
		communes = append(communes, c.Name)
	}
	cls, err := nlu.Load(fsys, nlu.Options{Communes: communes, Schemes: nluSchemes(kb.OtherSchemes())})
	if err != nil {
		return nil, nil, nil, nil, nil, err
	}
	return fsys, cat, kb, cls, communes, nil
}

// newApp builds the parts. With REDIS_URL unset it starts the embedded Redis and loads the demo
// records, and says so in one log line; with REDIS_URL set it never loads demo data.
func newApp(ctx context.Context, cfg config.Config, log *slog.Logger) (*app, error) {
	fsys, cat, kb, cls, communes, err := loadData(cfg)
	if err != nil {
		return nil, err
	}
	parts := &partitions{}
	redisconn.RouteLogs(log)
	conn, err := redisconn.OpenOptions(ctx, cfg.RedisURL, redisconn.Options{Tags: parts.tags, Log: log.With("part", "redis")})
	if err != nil {
		return nil, err
	}
	hashKey := []byte(cfg.LookupHashKey)
	if conn.Embedded && len(hashKey) == 0 {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		hashKey = []byte(hex.EncodeToString(b))
	}
	apps, err := lookup.New(conn.Client, lookup.Options{HashKey: hashKey, Communes: communes})
	if err != nil {
		conn.Close()
		return nil, err
	}
	if conn.Embedded {
		if err := lookup.LoadDemo(ctx, apps, fsys); err != nil {
			conn.Close()
			return nil, fmt.Errorf("demo data: %w", err)
		}
		log.Info("REDIS_URL is not set: using an embedded in-memory Redis with demo data (nothing is kept after exit; set REDIS_URL and LOOKUP_HASH_KEY for real use)")
	}
	if cfg.ApplicationCodePattern != nil {
		cls.SetCodePattern(cfg.ApplicationCodePattern)
	} else {
		if shapes, err := apps.CodeShapes(ctx); err == nil {
			cls.SetCodeShapes(shapes)
		}
		go refreshCodeShapes(ctx, apps, cls, log)
	}
	rec := stats.New(conn.Client, log.With("part", "stats"))
	aud := audience.New(conn.Client).WithCounter(rec)
	staff, err := caseStaff(cfg, kb)
	if err != nil {
		conn.Close()
		return nil, err
	}
	casesSvc := cases.New(conn.Client, kb, cat, nil, rec, cases.Config{
		FirstResponseDays: cfg.CaseFirstResponseDays, ResolveDays: cfg.CaseResolveDays,
		Retention: time.Duration(cfg.CaseRetentionDays) * 24 * time.Hour, Staff: staff, StaffLang: cfg.DefaultLang,
		Communes: communes, NormalizeAddress: normalizeAddress,
	}, log.With("part", "cases"))
	engine := dialogue.New(conn.Client, cls, kb, apps, aud, cat, dialogue.Config{
		DefaultLang: cfg.DefaultLang, StateTTL: cfg.StateTTL,
	}, log).WithCases(casesSvc, kb).WithStats(rec).WithHealth(conn.Health)
	a := &app{cfg: cfg, log: log, fsys: fsys, cat: cat, kb: kb, nlu: cls, communes: communes,
		conn: conn, apps: apps, aud: aud, engine: engine, cases: casesSvc, stats: rec, parts: parts}
	parts.add(apps, aud, casesSvc, rec)
	if !conn.Embedded {
		a.checkPersistence(ctx)
		a.warnLegacy(ctx)
	}
	return a, nil
}

func (a *app) Close() error { return a.conn.Close() }

// refreshCodeShapes keeps the understanding's idea of what an application code looks like in
// step with the imports (which other processes may run): the shapes are read every minute
// (newApp reads them once at start), until ctx ends.
func refreshCodeShapes(ctx context.Context, apps *lookup.Store, cls *nlu.Classifier, log *slog.Logger) {
	read := func() {
		shapes, err := apps.CodeShapes(ctx)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("reading the shapes of application codes", "err", err)
			}
			return
		}
		cls.SetCodeShapes(shapes)
	}
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			read()
		}
	}
}

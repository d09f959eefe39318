package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/socialaid-vn/gateway/config"
	"github.com/socialaid-vn/gateway/data"
	"github.com/socialaid-vn/gateway/lookup"
	"github.com/socialaid-vn/gateway/redisconn"
)

// embeddedOnlyInServe is why a command that works on the department's Redis cannot use the
// embedded one.
const embeddedOnlyInServe = "the embedded Redis lives only inside `gateway serve`"

// offlineRedis loads the configuration of a command that works on the department's Redis
// (import, migrate, staff, stats, ...) and connects to REDIS_URL; without it the error says
// what needs it and why (hint). The caller closes the connection.
func offlineRedis(ctx context.Context, env *environ, what, hint string) (config.Config, *redisconn.Conn, error) {
	cfg, err := config.Load(env.getenv)
	if err != nil {
		return cfg, nil, err
	}
	if cfg.RedisURL == "" {
		return cfg, nil, errors.New(what + " needs REDIS_URL: " + hint)
	}
	conn, err := redisconn.Open(ctx, cfg.RedisURL)
	if err != nil {
		return cfg, nil, err
	}
	return cfg, conn, nil
}

// dataCommunes opens the data files (DATA_DIR over the embedded ones) and reads the communes.
func dataCommunes(cfg config.Config) (fs.FS, []string, error) {
	fsys, err := data.Open(cfg.DataDir)
	if err != nil {
		return nil, nil, fmt.Errorf("DATA_DIR: %w", err)
	}
	communes, err := lookup.ReadCommunes(fsys)
	if err != nil {
		return nil, nil, err
	}
	return fsys, communes, nil
}

package redisconn

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/redis/go-redis/v9"
)

// RouteLogs sends go-redis's own log lines (pool, sentinel and cluster messages) into log as
// structured records ("redis client" with the line in "detail"), instead of plain text on
// stderr in the middle of the JSON log.
func RouteLogs(log *slog.Logger) {
	if log == nil {
		return
	}
	redis.SetLogger(slogLogger{log.With("part", "redis")})
}

type slogLogger struct{ log *slog.Logger }

func (l slogLogger) Printf(ctx context.Context, format string, v ...any) {
	line := fmt.Sprintf(format, v...)
	level := slog.LevelInfo
	low := strings.ToLower(line)
	if strings.Contains(low, "error") || strings.Contains(low, "failed") || strings.Contains(low, "unreachable") {
		level = slog.LevelWarn
	}
	l.log.Log(context.WithoutCancel(ctx), level, "redis client", "detail", line)
}

package redistest

import "github.com/socialaid-vn/gateway/redisconn"

// Slot is the Redis Cluster hash slot of key (a hash tag counts, as in Redis).
func Slot(key string) int { return redisconn.Slot(key) }

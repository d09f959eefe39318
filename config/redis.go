package config

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// RedisOptions turns REDIS_URL into go-redis UniversalOptions:
//
//	redis://[:password@]host:port[/db]                  one server
//	rediss://...                                        the same over TLS
//	redis://[:password@]h1:6379,h2:6379,h3:6379         Redis Cluster (seed nodes)
//	redis://[:password@]s1:26379,s2:26379?master_name=m Sentinel: the hosts are sentinels
//
// redis.NewUniversalClient picks the client from the options: a master name gives a failover
// client, several addresses a cluster client, one address a plain client.
func RedisOptions(raw string) (*redis.UniversalOptions, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("not a URL: %v", err)
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, fmt.Errorf("scheme must be redis:// or rediss://, not %q", u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("no host in %q", redactURL(u))
	}
	opts := &redis.UniversalOptions{}
	for _, h := range strings.Split(u.Host, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if !strings.Contains(h, ":") {
			h += ":6379"
		}
		opts.Addrs = append(opts.Addrs, h)
	}
	if u.User != nil {
		opts.Username = u.User.Username()
		opts.Password, _ = u.User.Password()
	}
	if p := strings.Trim(u.Path, "/"); p != "" {
		db, err := strconv.Atoi(p)
		if err != nil || db < 0 {
			return nil, fmt.Errorf("database %q is not a number", p)
		}
		opts.DB = db
	}
	q := u.Query()
	opts.MasterName = q.Get("master_name")
	opts.SentinelPassword = q.Get("sentinel_password")
	if opts.DB != 0 && len(opts.Addrs) > 1 && opts.MasterName == "" {
		return nil, fmt.Errorf("Redis Cluster has only database 0")
	}
	if u.Scheme == "rediss" {
		opts.TLSConfig = tlsConfig(opts.Addrs[0])
	}
	return opts, nil
}

func redactURL(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}

func tlsConfig(addr string) *tls.Config {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	return &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
}

package sms

import (
	"net/http"
	"time"
)

// PooledTransport is the HTTP transport of the providers' APIs: http.DefaultTransport keeps 2
// idle connections per host, so that dozens of broadcast workers sending at once dialled a new
// connection for most requests — a delay between taking a rate-limit slot and the request
// reaching the provider that varied with the machine's load, bunching requests into 429s. This
// one keeps a connection for each concurrent sender.
func PooledTransport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 128
	t.IdleConnTimeout = 90 * time.Second
	return t
}

package sms

import (
	"net/http"
	"time"
)

// PooledTransport is the HTTP transport of the providers' APIs: http.DefaultTransport keeps 2
// idle connections per host, so that dozens of broadcast workers sending at once dialled a new
// connection for most requests — a delay between taking a rate-limit slot and the request
// reaching the provider that varied with the machine's load, bunching requests into 429s. This
// one keeps a connection for each concurrent sender. Twilio's API is remote HTTPS, where a new
// connection also costs a TLS handshake. (Kannel's sendsms, on the same machine or network,
// keeps Go's default: a pooled connection to an smsbox that is shutting down may still be
// answered "Accepted" for a message bearerbox never gets, where a new one is refused.)
func PooledTransport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 128
	t.IdleConnTimeout = 90 * time.Second
	return t
}

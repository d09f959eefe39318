// Package lookup answers "where does my application stand?" from a Redis read model of the
// department's records: it imports applications and payment schedules (CSV or JSONL files, or
// NDJSON change events pushed over HTTP), verifies that the person asking owns an application
// (application code plus the last 4 digits of the citizen ID, or a phone number the channel
// proved), renders the answer in Vietnamese or English, and records status changes on the Redis
// Stream ChangesStream for the notifier.
//
// Privacy: Redis never holds a citizen ID, its last 4 digits, a full name or a birth date in
// clear. An application is stored as one packed string: the masked name ("Nguyễn V. A."), a
// keyed hash (HMAC-SHA256, LOOKUP_HASH_KEY) of the citizen ID, a keyed verifier of code + last 4
// digits, the E.164 phone (needed for the phone index and SMS notifications), and the public
// fields. Every lookup is audited (AuditStream) with the sender masked and no personal data.
//
// Redis layout. Every key belongs to one of partition.N (64) partitions, each its own Redis
// Cluster hash tag ({TT} below, partition.Tag), so the read model spreads over every master of a
// cluster. An application, its watchers, its failure counter and its change event live in the
// partition of its code key, so the versioned write and the change event are one atomic script;
// the phone index lives in the partition of the phone and is written in the same round trip,
// idempotently (re-importing repairs it; an entry whose record names another phone — left by a
// crash, or by an older version refused — is ignored on read and removed when known).
//
//	lk{TT}a:<CODE>      string   packed application (see encode)              partition of CODE
//	lk{TT}w:<CODE>      hash     watchers "<channel>:<chat id>" → lang (180 d) partition of CODE
//	lk{TT}fc:<CODE>     string   failed verifications of a code (TTL 24 h)    partition of CODE
//	lk{TT}changes       stream   status changes: code, status, prev_status, updated_at
//	lk{TT}shapes        set      shapes of the codes imported into the partition (CodeShape)
//	lk{TT}audit         stream   lookups: kind, sender (masked), code, result (partition of the
//	                             code asked, or of the phone for a phone lookup)
//	lk{TT}p:<bucket>    hash     "<phone without +84>|<CODE>" → ""            partition of phone
//	lk{TT}fs:<hash>     string   failed verifications of a sender (TTL 24 h)  partition of sender
//	lk{TT}s:<commune>   zset     payment sessions, score = start (unix s)     partition of commune
//
// Small values rather than sets: a one-member set costs 216 bytes on Redis 7, a string about
// 100; the phone index is kept in small hashes (PhoneBuckets per partition) that Redis stores as
// listpacks, a few dozen bytes an entry instead of a key each, and written with plain HSET/HDEL.
package lookup

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	_ "time/tzdata" // Asia/Ho_Chi_Minh on hosts without a zone database

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/partition"
)

// ChangesStream returns partition p's Redis Stream, which receives one entry per status change
// of an application of that partition (fields code, status, prev_status, updated_at), written in
// the same atomic step as the record. A first insert is not a change; re-importing the same
// record adds nothing.
func ChangesStream(p int) string { return prefix(p) + "changes" }

// AuditStream returns partition p's audit stream: one entry per verification (in the partition
// of the code asked) or phone lookup (of the phone): kind (code|phone), sender (masked), code,
// result (ok, no_match, locked, none). It holds no name, ID or phone number.
func AuditStream(p int) string { return prefix(p) + "audit" }

// PhoneBuckets is the number of phone-index hashes per partition: 64 × 256 = 16,384 in all,
// about 7 phones each for a province (Redis keeps a hash of up to 128 short entries as a compact
// listpack; a national read model of millions wants hash-max-listpack-entries 512).
const PhoneBuckets = 256

// prefix is the start of every key of partition p: "lk{TT}".
func prefix(p int) string { return "lk" + partition.Tag(p) }

// Limits of the anti-enumeration lockout and of the streams.
const (
	// SenderLimit failed verifications from one sender within LockWindow lock that sender out.
	SenderLimit = 5
	// CodeLimit failed verifications of one code, from anyone, within LockWindow lock that code.
	// The window is fixed from the first failure: whoever caused the lock, the code can be tried
	// again at most LockWindow after it, so an attacker can deny the owner the code path for a
	// day at a time but never lock it permanently; the owner can still use the Telegram phone
	// path (ByPhone is not locked by code) or the commune office.
	CodeLimit  = 10
	LockWindow = 24 * time.Hour
	// WatchTTL is how long a watcher stays registered after its last Watch.
	WatchTTL = 180 * 24 * time.Hour
	// AuditMaxLen and ChangesMaxLen cap the streams (approximately, MAXLEN ~).
	AuditMaxLen   = 1_000_000
	ChangesMaxLen = 500_000
	// MaxErrors caps Summary.Errors; Summary.Rejected always counts every rejected row.
	MaxErrors = 1000
)

// ErrNoMatch is returned by Verify when the code is unknown OR the digits are wrong: the two cases
// are indistinguishable to the caller (same error, same Redis work, same timing).
var ErrNoMatch = errors.New("lookup: no application matches this code and these digits")

// LockedError is returned by Verify when the sender or the code has too many recent failures.
// Until is when attempts are accepted again.
type LockedError struct{ Until time.Time }

func (e *LockedError) Error() string {
	return "lookup: too many failed attempts, locked until " + e.Until.UTC().Format(time.RFC3339)
}

// Options configures a Store.
type Options struct {
	HashKey  []byte           // required, ≥ 32 bytes: keys the citizen-ID hash and the verifier
	Communes []string         // canonical commune names (from knowledge/communes.csv)
	Now      func() time.Time // nil = time.Now
}

// Store is the application read model. It is safe for concurrent use; several replicas may
// share one Redis.
type Store struct {
	rdb      redis.UniversalClient
	key      []byte
	now      func() time.Time
	communes map[string]string // i18n.Key(name) → canonical name
	macs     sync.Pool         // hash.Hash: HMAC-SHA256 keyed with key
	spelled  sync.Map          // commune as written → canonical name (bounded by nSpelled)
	nSpelled atomic.Int64
}

// New returns a Store on rdb. It fails when the hash key is shorter than 32 bytes or the commune
// list is empty or has two names with the same folded key.
func New(rdb redis.UniversalClient, opts Options) (*Store, error) {
	if rdb == nil {
		return nil, errors.New("lookup: nil redis client")
	}
	if len(opts.HashKey) < 32 {
		return nil, errors.New("lookup: hash key must be at least 32 bytes (LOOKUP_HASH_KEY)")
	}
	if len(opts.Communes) == 0 {
		return nil, errors.New("lookup: no communes")
	}
	s := &Store{rdb: rdb, key: append([]byte(nil), opts.HashKey...), now: opts.Now, communes: map[string]string{}}
	if s.now == nil {
		s.now = time.Now
	}
	for _, c := range opts.Communes {
		c = strings.TrimSpace(c)
		k := i18n.Key(c)
		if k == "" {
			return nil, fmt.Errorf("lookup: empty commune name")
		}
		if prev, ok := s.communes[k]; ok && prev != c {
			return nil, fmt.Errorf("lookup: communes %q and %q are the same once folded", prev, c)
		}
		s.communes[k] = c
	}
	return s, nil
}

// Commune returns the canonical name of the commune the text names ("vu phuc", "Vũ Phúc",
// "VU PHUC" → "Vũ Phúc"), and whether it is one of the Store's communes.
func (s *Store) Commune(text string) (string, bool) {
	if c, ok := s.spelled.Load(text); ok {
		return c.(string), true
	}
	c, ok := s.communes[i18n.Key(text)]
	if ok && s.nSpelled.Add(1) <= 4096 { // an import repeats a few spellings thousands of times
		s.spelled.Store(text, c)
	}
	return c, ok
}

// vnZone is Vietnam time, used for every date shown and for schedule times.
var vnZone = func() *time.Location {
	if l, err := time.LoadLocation("Asia/Ho_Chi_Minh"); err == nil {
		return l
	}
	return time.FixedZone("ICT", 7*3600)
}()

// Zone returns the time zone of schedules and of the dates in replies (Asia/Ho_Chi_Minh).
func Zone() *time.Location { return vnZone }

func appKey(codeKey string) string      { return prefix(partition.Of(codeKey)) + "a:" + codeKey }
func shapesKey(p int) string            { return prefix(p) + "shapes" }
func watchKey(codeKey string) string    { return prefix(partition.Of(codeKey)) + "w:" + codeKey }
func failCodeKey(codeKey string) string { return prefix(partition.Of(codeKey)) + "fc:" + codeKey }

// phoneKey returns the index hash of a phone; its entries are phoneField(phone, code) → "".
func phoneKey(e164 string) string {
	h := fnv.New32a()
	h.Write([]byte("bucket\x00" + e164))
	return prefix(partition.Of(e164)) + "p:" + strconv.Itoa(int(h.Sum32()%PhoneBuckets))
}

// phoneField is the phone-index entry of one application: the 9 digits after +84, "|", the code
// key.
func phoneField(e164, codeKey string) string { return strings.TrimPrefix(e164, "+84") + "|" + codeKey }

func scheduleKey(commune string) string {
	k := strings.ReplaceAll(i18n.Key(commune), " ", "_")
	return prefix(partition.Of(k)) + "s:" + k
}

// mac returns HMAC-SHA256(key, domain|parts...) truncated to n bytes.
// The HMAC states are pooled: an import computes two per row.
func (s *Store) mac(n int, domain string, parts ...string) []byte {
	h, _ := s.macs.Get().(hash.Hash)
	if h == nil {
		h = hmac.New(sha256.New, s.key)
	}
	h.Reset()
	h.Write([]byte(domain))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	out := h.Sum(make([]byte, 0, sha256.Size))[:n]
	s.macs.Put(h)
	return out
}

// verifier is the proof of (code, last 4 digits): 12 bytes of HMAC, base64 (16 characters).
// Records store its first verifierLen characters (9 bytes: the secret key, not the length,
// keeps the 10,000 possible digits from being tried offline); records written before kept all
// 16, and a stored verifier is compared as a prefix, so both match.
func (s *Store) verifier(codeKey, last4 string) string {
	return base64.RawURLEncoding.EncodeToString(s.mac(12, "verify1", codeKey, last4))
}

// verifierLen and idHashLen are the characters of the verifier and the ID hash a record keeps.
const (
	verifierLen = 12
	idHashLen   = 16
)

// idHash is the keyed hash of a full citizen ID, kept to match records by ID without storing it:
// 12 bytes of HMAC, base64 (older records kept 16 bytes, of which these are the start).
func (s *Store) idHash(citizenID string) string {
	return base64.RawURLEncoding.EncodeToString(s.mac(16, "cid1", citizenID))[:idHashLen]
}

// IDHash returns the keyed hash stored for a citizen ID (for matching by the system of record;
// compare it with the start of a stored hash).
func (s *Store) IDHash(citizenID string) string { return s.idHash(citizenID) }

func (s *Store) failSenderKey(sender string) string {
	h := hex.EncodeToString(s.mac(12, "sender1", sender))
	return prefix(partition.Of(h)) + "fs:" + h
}

// Mask hides the middle of an identifier for logs and audit: "+84912345678" → "+8491*****78",
// "telegram:123456789" → "telegram:123****89". Short values are starred out entirely.
func Mask(id string) string {
	prefix := ""
	if i := strings.IndexByte(id, ':'); i >= 0 {
		prefix, id = id[:i+1], id[i+1:]
	}
	r := []rune(id)
	keepHead, keepTail := 5, 2
	if len(r) < 10 {
		keepHead, keepTail = len(r)/3, len(r)/4
	}
	if len(r) <= 4 {
		keepHead, keepTail = 0, 0
	}
	return prefix + string(r[:keepHead]) + strings.Repeat("*", len(r)-keepHead-keepTail) + string(r[len(r)-keepTail:])
}

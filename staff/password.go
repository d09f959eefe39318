package staff

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Argon2 parameters: the OWASP recommendation for argon2id (19 MiB, 2 passes, 1 lane). Hashing
// takes some tens of milliseconds; hashes made with other parameters still verify.
type argonParams struct {
	memory  uint32 // KiB
	time    uint32
	threads uint8
}

var defaultArgon = argonParams{memory: 19 * 1024, time: 2, threads: 1}

// Password rules.
const (
	MinPassword = 10
	MaxPassword = 256
)

// ErrWeakPassword is wrapped by CheckPassword's errors.
var ErrWeakPassword = errors.New("weak password")

// CheckPassword says why a new password is not acceptable (nil when it is).
func CheckPassword(username, pw string) error {
	switch n := utf8.RuneCountInString(pw); {
	case !utf8.ValidString(pw):
		return fmt.Errorf("%w: not valid text", ErrWeakPassword)
	case n < MinPassword:
		return fmt.Errorf("%w: at least %d characters", ErrWeakPassword, MinPassword)
	case n > MaxPassword:
		return fmt.Errorf("%w: at most %d characters", ErrWeakPassword, MaxPassword)
	case strings.EqualFold(pw, username) || strings.Contains(strings.ToLower(pw), strings.ToLower(username)) && len(username) >= 4:
		return fmt.Errorf("%w: must not contain the username", ErrWeakPassword)
	}
	return nil
}

// hashPassword returns the PHC string of an argon2id hash of pw with a fresh salt.
func hashPassword(pw string, p argonParams) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, p.time, p.memory, p.threads, 32)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.memory, p.time, p.threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// verifyPassword checks pw against a PHC string made by hashPassword, in constant time.
func verifyPassword(encoded, pw string) bool {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var v int
	var p argonParams
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.memory, &p.time, &p.threads); err != nil ||
		p.memory == 0 || p.memory > 1<<20 || p.time == 0 || p.time > 16 || p.threads == 0 {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, p.time, p.memory, p.threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is verified against when the username is unknown, so that an unknown name and a
// wrong password take the same time.
var dummyHash, _ = hashPassword("not a password of anyone", defaultArgon)

// GeneratePassword returns a random password of 16 characters that is easy to type (no 0/O,
// 1/l/I), for the embedded demo's admin.
func GeneratePassword() string {
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

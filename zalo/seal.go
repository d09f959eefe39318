package zalo

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/hkdf"
)

// The OA's tokens are kept in Redis sealed (AES-256-GCM), with a key derived from the app's
// secret (HKDF-SHA256): a Redis dump, backup or replica read alone does not give an access token
// that can send messages as the department. A value written before sealing (no prefix) is still
// read, and sealed at the next write.
const sealPrefix = "s1:"

// sealer seals and opens token values.
type sealer struct{ aead cipher.AEAD }

func newSealer(appSecret string) (*sealer, error) {
	key := make([]byte, 32)
	if _, err := io.ReadFull(hkdf.New(sha256.New, []byte(appSecret), nil, []byte("socialaid-gateway zalo token store v1")), key); err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

// seal returns the sealed form of v ("" stays "": no token).
func (s *sealer) seal(v string) string {
	if v == "" {
		return ""
	}
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	return sealPrefix + base64.RawStdEncoding.EncodeToString(s.aead.Seal(nonce, nonce, []byte(v), nil))
}

// errSealed means a sealed value could not be opened: another app secret sealed it.
var errSealed = fmt.Errorf("%w: a stored token cannot be opened with this ZALO_APP_SECRET (it was sealed with another): authorise the OA again and set a new ZALO_REFRESH_TOKEN", ErrToken)

// open returns the value sealed in v; a value without the prefix is returned as it is.
func (s *sealer) open(v string) (string, error) {
	raw, ok := strings.CutPrefix(v, sealPrefix)
	if !ok {
		return v, nil
	}
	b, err := base64.RawStdEncoding.DecodeString(raw)
	if err != nil || len(b) < s.aead.NonceSize() {
		return "", errSealed
	}
	plain, err := s.aead.Open(nil, b[:s.aead.NonceSize()], b[s.aead.NonceSize():], nil)
	if err != nil {
		return "", errSealed
	}
	return string(plain), nil
}

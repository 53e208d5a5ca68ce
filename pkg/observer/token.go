package observer

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"os"
	"strings"
	"unicode"
)

// MinTokenLength is the shortest bearer token accepted, in bytes.
const MinTokenLength = 16

// ReadToken reads a bearer token from a file: surrounding white space is trimmed; the token must be
// at least MinTokenLength bytes of printable, non-space ASCII. key names the setting in errors. The
// token itself never appears in an error.
func ReadToken(path, key string) ([]byte, error) {
	if path == "" {
		return nil, fmt.Errorf("%s: a token file is required", key)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: read token file: %w", key, err)
	}
	tok := bytes.TrimSpace(b)
	if len(tok) == 0 {
		return nil, fmt.Errorf("%s: token file %s is empty", key, path)
	}
	if len(tok) < MinTokenLength {
		return nil, fmt.Errorf("%s: the token in %s is %d bytes long; at least %d are required", key, path, len(tok), MinTokenLength)
	}
	for _, c := range tok {
		if c > unicode.MaxASCII || c <= ' ' || c == 0x7f {
			return nil, fmt.Errorf("%s: the token in %s holds a space, control or non-ASCII character", key, path)
		}
	}
	return tok, nil
}

// tokenMatcher compares presented tokens with the configured one in constant time, also with
// respect to the presented token's length (both sides are hashed first).
type tokenMatcher struct{ sum [sha256.Size]byte }

func newTokenMatcher(token []byte) tokenMatcher { return tokenMatcher{sum: sha256.Sum256(token)} }

// match checks an Authorization header value ("Bearer <token>", scheme case-insensitive).
func (m tokenMatcher) match(header string) bool {
	scheme, tok, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(got[:], m.sum[:]) == 1
}

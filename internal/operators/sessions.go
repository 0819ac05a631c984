package operators

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Session is a console login as the store keeps it.
type Session struct {
	Principal Principal
	// TokenDigest is set for the bootstrap admin: the digest of the
	// ADMIN_TOKEN it logged in with, which must still be the token's.
	TokenDigest []byte
	ExpiresAt   time.Time
}

// sessionBytes is the size of a session's random value.
const sessionBytes = 32

// sessionHash is what the table keeps of a session's value.
func sessionHash(value string) []byte {
	sum := sha256.Sum256([]byte(value))
	return sum[:]
}

// NewSession stores a session of p, made at now and ending at now+ttl, and
// returns the value for its cookie. tokenDigest is required for the
// bootstrap admin and ignored otherwise. Sessions that ended or expired more
// than a day before now are removed on the way.
func (s *Store) NewSession(ctx context.Context, p Principal, tokenDigest []byte, now time.Time, ttl time.Duration) (string, error) {
	var b [sessionBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("make session: %w", err)
	}
	value := base64.RawURLEncoding.EncodeToString(b[:])
	var operatorID *string
	if p.OperatorID != "" {
		operatorID, tokenDigest = &p.OperatorID, nil
	} else if len(tokenDigest) == 0 {
		return "", errors.New("make session: the bootstrap admin's session needs the token's digest")
	}
	batch := &pgx.Batch{}
	batch.Queue(`INSERT INTO console_sessions (id_hash, operator_id, token_digest, expires_at) VALUES ($1, $2, $3, $4)`,
		sessionHash(value), operatorID, tokenDigest, now.Add(ttl))
	batch.Queue(`DELETE FROM console_sessions WHERE expires_at < $1 OR ended_at < $1`, now.Add(-24*time.Hour))
	if err := s.db.SendBatch(ctx, batch).Close(); err != nil {
		return "", fmt.Errorf("store session: %w", err)
	}
	return value, nil
}

// LookupSession returns the live session of a cookie's value at now. ok is
// false for a value of no session, one that ended or expired, and one of a
// revoked operator. It reads the table on every call: nothing is cached.
func (s *Store) LookupSession(ctx context.Context, value string, now time.Time) (Session, bool, error) {
	if len(value) != base64.RawURLEncoding.EncodedLen(sessionBytes) {
		return Session{}, false, nil
	}
	var sess Session
	var operatorID, name, role *string
	err := s.db.QueryRow(ctx, `
		SELECT s.operator_id, o.name, o.role, s.token_digest, s.expires_at
		FROM console_sessions s LEFT JOIN operators o ON o.id = s.operator_id
		WHERE s.id_hash = $1 AND s.ended_at IS NULL AND s.expires_at > $2
		  AND (s.operator_id IS NULL OR o.revoked_at IS NULL)`, sessionHash(value), now).
		Scan(&operatorID, &name, &role, &sess.TokenDigest, &sess.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Session{}, false, nil
	}
	if err != nil {
		return Session{}, false, fmt.Errorf("read session: %w", err)
	}
	if operatorID == nil {
		sess.Principal = Bootstrap
	} else {
		sess.Principal = Principal{Name: *name, Role: Role(*role), OperatorID: *operatorID}
	}
	sess.ExpiresAt = sess.ExpiresAt.UTC()
	return sess, true, nil
}

// EndSession ends the session of a cookie's value (a logout). Ending one
// that is not live is no error.
func (s *Store) EndSession(ctx context.Context, value string) error {
	if _, err := s.db.Exec(ctx, `UPDATE console_sessions SET ended_at = now() WHERE id_hash = $1 AND ended_at IS NULL`,
		sessionHash(value)); err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}

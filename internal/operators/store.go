package operators

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/payrecon/reconciler/internal/apperr"
	"github.com/payrecon/reconciler/internal/gather"
	"github.com/payrecon/reconciler/internal/ids"
)

// Store keeps operators and their console sessions in PostgreSQL.
type Store struct {
	db *pgxpool.Pool
	// keys reads the operators of concurrent Authenticates together.
	keys *gather.Gatherer[string, keyRow]
}

// NewStore wraps a connection pool.
func NewStore(db *pgxpool.Pool) *Store {
	s := &Store{db: db}
	s.keys = gather.New(s.readKeys, gather.DefaultMax, gather.DefaultTimeout)
	return s
}

// Operator is an operator as the admin API shows it: never its key.
type Operator struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Role      Role       `json:"role"`
	CreatedBy string     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at"`
}

// namePattern is the shape of an operator's name, as the table checks it:
// what history rows show, so plain and unambiguous.
var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,63}$`)

// reserved are the actor names that are not operators.
var reserved = map[string]bool{BootstrapName: true, "stripe": true, "reconciler": true}

// Key format: "rk_" + keyIDLength hex characters naming the row + "_" +
// the secret, 32 random bytes in unpadded base64url.
const (
	keyPrefix   = "rk_"
	keyIDLength = 16
	secretBytes = 32
)

// keyLength is the length of every key Create makes.
var keyLength = len(keyPrefix) + keyIDLength + 1 + base64.RawURLEncoding.EncodedLen(secretBytes)

const operatorColumns = `id, name, role, created_by, created_at, revoked_at`

func scanOperator(row pgx.Row) (Operator, error) {
	var o Operator
	err := row.Scan(&o.ID, &o.Name, &o.Role, &o.CreatedBy, &o.CreatedAt, &o.RevokedAt)
	o.CreatedAt = o.CreatedAt.UTC()
	if o.RevokedAt != nil {
		t := o.RevokedAt.UTC()
		o.RevokedAt = &t
	}
	return o, err
}

// Create adds an operator and returns it with its key, which is shown this
// once: only its SHA-256 is kept. createdBy is the actor who creates it.
func (s *Store) Create(ctx context.Context, name string, role Role, createdBy string) (Operator, string, error) {
	switch {
	case !namePattern.MatchString(name):
		return Operator{}, "", apperr.Errorf(apperr.KindInvalid, "invalid_name",
			"name must be 1 to 64 lower-case letters, digits, '.', '_', '@' or '-', starting with a letter or digit")
	case reserved[name]:
		return Operator{}, "", apperr.Errorf(apperr.KindInvalid, "invalid_name",
			"name %q is reserved for the bootstrap admin and the system's own actors", name)
	case !role.Valid():
		return Operator{}, "", apperr.Errorf(apperr.KindInvalid, "invalid_role", "role must be viewer, operator or admin")
	}
	key, keyID, err := newKey()
	if err != nil {
		return Operator{}, "", err
	}
	sum := sha256.Sum256([]byte(key))
	o, err := scanOperator(s.db.QueryRow(ctx, `
		INSERT INTO operators (id, name, role, key_id, key_hash, created_by)
		VALUES ($1, $2, $3, $4, $5, $6)
		RETURNING `+operatorColumns, ids.New("op"), name, role, keyID, sum[:], createdBy))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "operators_name_key" {
		return Operator{}, "", apperr.Errorf(apperr.KindConflict, "operator_exists",
			"an operator named %q exists or existed: names are never reused, so history stays unambiguous", name)
	}
	if err != nil {
		return Operator{}, "", fmt.Errorf("create operator %s: %w", name, err)
	}
	return o, key, nil
}

// newKey makes a key and the id that finds its row.
func newKey() (key, keyID string, err error) {
	var id [keyIDLength / 2]byte
	var secret [secretBytes]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", "", fmt.Errorf("make operator key: %w", err)
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return "", "", fmt.Errorf("make operator key: %w", err)
	}
	keyID = hex.EncodeToString(id[:])
	return keyPrefix + keyID + "_" + base64.RawURLEncoding.EncodeToString(secret[:]), keyID, nil
}

// LooksLikeKey reports whether s has the shape of an operator key, so that
// a caller can tell a key from the admin token without a query.
func LooksLikeKey(s string) bool {
	return len(s) == keyLength && strings.HasPrefix(s, keyPrefix) && s[len(keyPrefix)+keyIDLength] == '_'
}

// List returns every operator, revoked ones too (with revoked_at), oldest
// first.
func (s *Store) List(ctx context.Context) ([]Operator, error) {
	rows, err := s.db.Query(ctx, `SELECT `+operatorColumns+` FROM operators ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list operators: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Operator, error) { return scanOperator(r) })
	if err != nil {
		return nil, fmt.Errorf("list operators: %w", err)
	}
	return out, nil
}

// Revoke ends an operator's key and console sessions at once: the next
// request with either is refused. Its row stays, so its name stays taken.
func (s *Store) Revoke(ctx context.Context, id string) (Operator, error) {
	var o Operator
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var err error
		o, err = scanOperator(tx.QueryRow(ctx, `
			UPDATE operators SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL
			RETURNING `+operatorColumns, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return apperr.Errorf(apperr.KindNotFound, "operator_not_found", "no operator %s with a live key", id)
		}
		if err != nil {
			return fmt.Errorf("revoke operator %s: %w", id, err)
		}
		if _, err := tx.Exec(ctx, `UPDATE console_sessions SET ended_at = now()
			WHERE operator_id = $1 AND ended_at IS NULL`, id); err != nil {
			return fmt.Errorf("end sessions of operator %s: %w", id, err)
		}
		return nil
	})
	return o, err
}

// Authenticate finds the live operator whose key is key. ok is false for a
// key of no live operator. The row is read on every call, so a revoked key
// fails at once; the digests are compared in constant time. The rows of
// concurrent calls are read together, in one statement (every read of it
// asked for before it started, so each sees what a read of its own would
// have): an operator's request costs PostgreSQL a share of a statement
// instead of a transaction of its own.
func (s *Store) Authenticate(ctx context.Context, key string) (p Principal, ok bool, err error) {
	if !LooksLikeKey(key) {
		return Principal{}, false, nil
	}
	row, err := s.keys.Do(ctx, key[len(keyPrefix):len(keyPrefix)+keyIDLength])
	if err != nil {
		return Principal{}, false, fmt.Errorf("authenticate operator key: %w", err)
	}
	sum := sha256.Sum256([]byte(key))
	if !row.found || subtle.ConstantTimeCompare(sum[:], row.hash) != 1 {
		return Principal{}, false, nil
	}
	return row.principal, true, nil
}

// keyRow is the live operator of a key id, as Authenticate reads it.
type keyRow struct {
	principal Principal
	hash      []byte
	found     bool
}

// readKeys reads the live operators of keyIDs, in one statement.
func (s *Store) readKeys(ctx context.Context, keyIDs []string) ([]keyRow, error) {
	rows, err := s.db.Query(ctx, `SELECT key_id, id, name, role, key_hash FROM operators
		WHERE key_id = ANY ($1) AND revoked_at IS NULL`, keyIDs)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	byID := make(map[string]keyRow, len(keyIDs))
	for rows.Next() {
		var id string
		r := keyRow{found: true}
		if err := rows.Scan(&id, &r.principal.OperatorID, &r.principal.Name, &r.principal.Role, &r.hash); err != nil {
			return nil, err
		}
		byID[id] = r
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]keyRow, len(keyIDs))
	for i, id := range keyIDs {
		out[i] = byID[id]
	}
	return out, nil
}

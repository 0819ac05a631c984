package operators_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/payrecon/reconciler/internal/operators"
	"github.com/payrecon/reconciler/internal/testing/testenv"
)

// TestConcurrentAuthenticationsAsAlone authenticates from many goroutines
// at once, so the reads of the operators' rows are shared: a live
// operator's key finds that operator, a key with its id and another
// secret, a revoked operator's key, a key of no operator and a string that
// is no key find nobody. A key revoked while others authenticate fails
// from the moment Revoke returns.
func TestConcurrentAuthenticationsAsAlone(t *testing.T) {
	t.Parallel()
	s := operators.NewStore(testenv.Pool(t))
	ctx := context.Background()
	type known struct {
		key  string
		want operators.Principal
		ok   bool
	}
	var keys []known
	for i, role := range []operators.Role{operators.RoleViewer, operators.RoleOperator, operators.RoleAdmin} {
		o, key, err := s.Create(ctx, fmt.Sprintf("op-%d", i), role, "admin")
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, known{key: key, want: operators.Principal{Name: o.Name, Role: role, OperatorID: o.ID}, ok: true})
		// The same key id with another secret.
		forged := key[:len(key)-4] + strings.Repeat("A", 4)
		if forged == key {
			forged = key[:len(key)-4] + strings.Repeat("B", 4)
		}
		keys = append(keys, known{key: forged})
	}
	revoked, revokedKey, err := s.Create(ctx, "op-revoked", operators.RoleOperator, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Revoke(ctx, revoked.ID); err != nil {
		t.Fatal(err)
	}
	keys = append(keys, known{key: revokedKey}, known{key: "rk_0123456789abcdef_" + strings.Repeat("x", 43)}, known{key: "not a key"})
	late, lateKey, err := s.Create(ctx, "op-late", operators.RoleOperator, "admin")
	if err != nil {
		t.Fatal(err)
	}

	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 32 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(g)))
			for {
				select {
				case <-stop:
					return
				default:
				}
				k := keys[r.IntN(len(keys))]
				p, ok, err := s.Authenticate(ctx, k.key)
				if err != nil || ok != k.ok || p != k.want {
					t.Errorf("authenticate %q: %+v, %v, %v; want %+v, %v", k.key, p, ok, err, k.want, k.ok)
					return
				}
			}
		})
	}
	for range 20 {
		if _, ok, err := s.Authenticate(ctx, lateKey); err != nil || !ok {
			t.Fatalf("the late operator's key before its revocation: %v, %v", ok, err)
		}
	}
	if _, err := s.Revoke(ctx, late.ID); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if p, ok, err := s.Authenticate(ctx, lateKey); err != nil || ok {
			t.Fatalf("the late operator's key after its revocation: %+v, %v, %v", p, ok, err)
		}
	}
	close(stop)
	wg.Wait()
}

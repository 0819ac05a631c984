// Package operators holds the people who use the admin API and the console:
// their roles, their keys (stored hashed) and their console sessions (stored
// server-side, so that logging out or revoking an operator ends them at
// once). The bootstrap admin, who logs in with ADMIN_TOKEN, is no row here:
// it is the Principal Bootstrap.
package operators

import "fmt"

// Role is what an operator may do. Each role may do everything the one
// before it may.
type Role string

// The roles of the contract.
const (
	// RoleViewer reads everything and changes nothing.
	RoleViewer Role = "viewer"
	// RoleOperator also records and deletes payments, credit notes, write-offs
	// and reopens, and resolves events and discrepancies.
	RoleOperator Role = "operator"
	// RoleAdmin also manages operators, notification endpoints and
	// reconciliation runs.
	RoleAdmin Role = "admin"
)

// Roles lists the roles from the least to the most allowed.
func Roles() []Role { return []Role{RoleViewer, RoleOperator, RoleAdmin} }

// rank orders the roles; an unknown role ranks below every known one.
func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleOperator:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Valid reports whether r is a role of the contract.
func (r Role) Valid() bool { return r.rank() > 0 }

// Allows reports whether a holder of r may do what needs the role need.
func (r Role) Allows(need Role) bool { return r.Valid() && r.rank() >= need.rank() }

// ParseRole reads a role's name.
func ParseRole(s string) (Role, error) {
	if r := Role(s); r.Valid() {
		return r, nil
	}
	return "", fmt.Errorf("role %q: want viewer, operator or admin", s)
}

// Principal is who makes a request: an operator, or the bootstrap admin.
type Principal struct {
	// Name is the actor written in history and jobs.
	Name string
	Role Role
	// OperatorID is empty for the bootstrap admin.
	OperatorID string
}

// BootstrapName is the actor name of the bootstrap admin, who holds
// ADMIN_TOKEN.
const BootstrapName = "admin"

// Bootstrap is the principal of ADMIN_TOKEN.
var Bootstrap = Principal{Name: BootstrapName, Role: RoleAdmin}

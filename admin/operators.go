package admin

import (
	"net/http"

	"github.com/payrecon/reconciler/internal/operators"
)

// The operators routes: an admin adds operators, each with a role and a key
// of its own shown once, lists them, and revokes them. Revoking ends the
// key and the operator's console sessions at once.

type newOperatorBody struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// createdOperator shows the key, this once.
type createdOperator struct {
	operators.Operator
	Key string `json:"key"`
}

type operatorsAnswer struct {
	Operators []operators.Operator `json:"operators"`
}

// errNoOperators answers the operators routes of an API built without an
// operators store.
func errNoOperators() error {
	return httpErr(http.StatusServiceUnavailable, "operators_not_configured", "this server keeps no operators")
}

// createOperator answers POST /admin/operators: 201 with the operator and
// its key.
func (a *API) createOperator(w http.ResponseWriter, r *http.Request) error {
	if a.operators == nil {
		return errNoOperators()
	}
	var b newOperatorBody
	if err := a.DecodeJSON(w, r, &b); err != nil {
		return err
	}
	role, err := operators.ParseRole(b.Role)
	if err != nil {
		return invalid("invalid_role", "role must be viewer, operator or admin")
	}
	p, _ := PrincipalFrom(r.Context())
	o, key, err := a.operators.Create(r.Context(), b.Name, role, p.Name)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/admin/operators/"+o.ID)
	a.WriteJSON(w, http.StatusCreated, createdOperator{Operator: o, Key: key})
	return nil
}

// listOperators answers GET /admin/operators: every operator, revoked ones
// with their revoked_at, never a key.
func (a *API) listOperators(w http.ResponseWriter, r *http.Request) error {
	if a.operators == nil {
		return errNoOperators()
	}
	list, err := a.operators.List(r.Context())
	if err != nil {
		return err
	}
	if list == nil {
		list = []operators.Operator{}
	}
	a.WriteJSON(w, http.StatusOK, operatorsAnswer{Operators: list})
	return nil
}

// revokeOperator answers DELETE /admin/operators/{id}: 204, and the key and
// sessions stop working at once.
func (a *API) revokeOperator(w http.ResponseWriter, r *http.Request) error {
	if a.operators == nil {
		return errNoOperators()
	}
	if err := a.emptyBody(w, r); err != nil {
		return err
	}
	if _, err := a.operators.Revoke(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

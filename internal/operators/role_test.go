package operators_test

import (
	"testing"

	"github.com/payrecon/reconciler/internal/operators"
)

func TestRolesAllowWhatTheRolesBelowThemAllow(t *testing.T) {
	for _, c := range []struct {
		role, need operators.Role
		want       bool
	}{
		{operators.RoleViewer, operators.RoleViewer, true},
		{operators.RoleViewer, operators.RoleOperator, false},
		{operators.RoleViewer, operators.RoleAdmin, false},
		{operators.RoleOperator, operators.RoleViewer, true},
		{operators.RoleOperator, operators.RoleOperator, true},
		{operators.RoleOperator, operators.RoleAdmin, false},
		{operators.RoleAdmin, operators.RoleAdmin, true},
		{"root", operators.RoleViewer, false},
	} {
		verb := "may"
		if !c.want {
			verb = "may not"
		}
		t.Run("a "+string(c.role)+" "+verb+" do what needs a "+string(c.need), func(t *testing.T) {
			if got := c.role.Allows(c.need); got != c.want {
				t.Fatalf("Allows = %v", got)
			}
		})
	}
}

func TestParseRole(t *testing.T) {
	for _, s := range []string{"viewer", "operator", "admin"} {
		if r, err := operators.ParseRole(s); err != nil || string(r) != s {
			t.Errorf("ParseRole(%q) = %q, %v", s, r, err)
		}
	}
	for _, s := range []string{"", "Admin", "root"} {
		if _, err := operators.ParseRole(s); err == nil {
			t.Errorf("ParseRole(%q) accepted", s)
		}
	}
}

func TestLooksLikeKey(t *testing.T) {
	good := "rk_0123456789abcdef_" + "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"
	for key, want := range map[string]bool{
		good:                        true,
		good[:len(good)-1]:          false,
		"rk_0123456789abcdef":       false,
		"dev-admin-token-0123":      false,
		"xx" + good[2:]:             false,
		good[:19] + "-" + good[20:]: false,
	} {
		if got := operators.LooksLikeKey(key); got != want {
			t.Errorf("LooksLikeKey(%q) = %v, want %v", key, got, want)
		}
	}
}

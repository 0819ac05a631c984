package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
)

func operatorsCreate(s *session, args []string) error {
	f := newFlags("operators create --name NAME --role viewer|operator|admin",
		"Adds an operator and prints its key, this once: give it to the operator, who exports it as\nRECONCILER_KEY or types it to log in to the console. Needs the admin role.")
	name := f.String("name", "", "the operator's `name`, as its changes will show it (required)")
	role := f.String("role", "", "the `role`: viewer (reads), operator (also money), admin (also operators, endpoints, runs)")
	if _, err := s.parse(f, args); err != nil {
		return err
	}
	if *name == "" || *role == "" {
		return s.badUsage(f, "--name and --role are required")
	}
	var o operator
	raw, err := s.api.do(s.ctx, http.MethodPost, path("operators"), nil, map[string]string{"name": *name, "role": *role}, nil, &o)
	if err != nil {
		return err
	}
	if s.json {
		writeJSON(s.stdout, raw)
		return nil
	}
	fmt.Fprintf(s.stdout, "operator %s (%s, %s)\nkey %s\n(shown once: only its hash is kept)\n",
		cell(o.Name), cell(o.ID), cell(o.Role), cell(o.Key))
	return nil
}

func operatorsList(s *session, args []string) error {
	f := newFlags("operators list", "Lists every operator, revoked ones too; never a key. Needs the admin role.")
	if _, err := s.parse(f, args); err != nil {
		return err
	}
	var answer struct {
		Operators []operator `json:"operators"`
	}
	raw, err := s.api.get(s.ctx, path("operators"), nil, &answer)
	if err != nil {
		return err
	}
	if s.json {
		writeJSON(s.stdout, raw)
		return nil
	}
	if len(answer.Operators) == 0 {
		fmt.Fprintln(s.stdout, "no operators (the bootstrap admin, ADMIN_TOKEN, is always there)")
		return nil
	}
	t := newTable(s.stdout, "ID", "NAME", "ROLE", "CREATED", "BY", "REVOKED")
	for _, o := range answer.Operators {
		t.row(o.ID, o.Name, o.Role, o.CreatedAt, o.CreatedBy, str(o.RevokedAt))
	}
	t.flush()
	return nil
}

func operatorsRevoke(s *session, args []string) error {
	f := newFlags("operators revoke ID",
		"Revokes an operator: its key and console sessions stop working at once. Needs the admin role.")
	pos, err := s.parse(f, args, "ID")
	if err != nil {
		return err
	}
	if _, err := s.api.do(s.ctx, http.MethodDelete, path("operators", pos[0]), nil, nil, nil, nil); err != nil {
		return err
	}
	if s.json {
		raw, _ := json.Marshal(map[string]any{"id": pos[0], "revoked": true})
		writeJSON(s.stdout, raw)
		return nil
	}
	fmt.Fprintf(s.stdout, "revoked operator %s\n", cell(pos[0]))
	return nil
}

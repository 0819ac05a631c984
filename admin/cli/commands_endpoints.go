package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// endpoint is a notification endpoint as the API shows it.
type endpoint struct {
	ID          string   `json:"id"`
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Description string   `json:"description"`
	CreatedAt   string   `json:"created_at"`
	Secret      string   `json:"secret"`
}

// delivery is one endpoint's delivery of one notification.
type delivery struct {
	ID             string  `json:"id"`
	NotificationID string  `json:"notification_id"`
	Type           string  `json:"type"`
	Status         string  `json:"status"`
	Attempts       int     `json:"attempts"`
	LastStatusCode *int    `json:"last_status_code"`
	LastError      string  `json:"last_error"`
	CreatedAt      string  `json:"created_at"`
	DeliveredAt    *string `json:"delivered_at"`
}

func endpointsAdd(s *session, args []string) error {
	f := newFlags("endpoints add URL [--events T1,T2] [--description D]",
		"Subscribes a URL to invoice changes; prints its signing secret, this once.")
	events := f.String("events", "", "comma-separated notification `types` (default: all)")
	description := f.String("description", "", "what the endpoint is, for people")
	pos, err := s.parse(f, args, "URL")
	if err != nil {
		return err
	}
	body := map[string]any{"url": pos[0], "description": *description}
	if *events != "" {
		body["events"] = strings.Split(*events, ",")
	}
	var ep endpoint
	raw, err := s.api.do(s.ctx, http.MethodPost, path("endpoints"), nil, body, nil, &ep)
	if err != nil {
		return err
	}
	if s.json {
		writeJSON(s.stdout, raw)
		return nil
	}
	fmt.Fprintf(s.stdout, "endpoint %s -> %s\nsecret %s (shown once: keep it to verify Reconciler-Signature or, with any Standard Webhooks library, webhook-signature)\n",
		cell(ep.ID), cell(ep.URL), cell(ep.Secret))
	return nil
}

func endpointsList(s *session, args []string) error {
	f := newFlags("endpoints list", "Lists the notification endpoints (without their secrets).")
	if _, err := s.parse(f, args); err != nil {
		return err
	}
	var answer struct {
		Endpoints []endpoint `json:"endpoints"`
	}
	raw, err := s.api.get(s.ctx, path("endpoints"), nil, &answer)
	if err != nil {
		return err
	}
	if s.json {
		writeJSON(s.stdout, raw)
		return nil
	}
	if len(answer.Endpoints) == 0 {
		fmt.Fprintln(s.stdout, "no endpoints")
		return nil
	}
	t := newTable(s.stdout, "ID", "URL", "EVENTS", "DESCRIPTION")
	for _, ep := range answer.Endpoints {
		t.row(ep.ID, ep.URL, strings.Join(ep.Events, ","), ep.Description)
	}
	t.flush()
	return nil
}

func endpointsDelete(s *session, args []string) error {
	f := newFlags("endpoints delete ID", "Deletes an endpoint: nothing more is delivered to it.")
	pos, err := s.parse(f, args, "ID")
	if err != nil {
		return err
	}
	if _, err := s.api.do(s.ctx, http.MethodDelete, path("endpoints", pos[0]), nil, nil, nil, nil); err != nil {
		return err
	}
	if s.json {
		raw, _ := json.Marshal(map[string]any{"id": pos[0], "deleted": true})
		writeJSON(s.stdout, raw)
		return nil
	}
	fmt.Fprintf(s.stdout, "deleted endpoint %s\n", cell(pos[0]))
	return nil
}

func deliveriesList(s *session, args []string) error {
	f := newFlags("endpoints deliveries ENDPOINT [--status S]", "Lists an endpoint's deliveries, newest first.")
	status := f.String("status", "", "only deliveries in this `status`: pending, delivered, failed")
	pos, err := s.parse(f, args, "ENDPOINT")
	if err != nil {
		return err
	}
	q := url.Values{}
	if *status != "" {
		q.Set("status", *status)
	}
	var answer struct {
		Deliveries []delivery `json:"deliveries"`
	}
	raw, err := s.api.get(s.ctx, path("endpoints", pos[0], "deliveries"), q, &answer)
	if err != nil {
		return err
	}
	if s.json {
		writeJSON(s.stdout, raw)
		return nil
	}
	if len(answer.Deliveries) == 0 {
		fmt.Fprintln(s.stdout, "no deliveries")
		return nil
	}
	t := newTable(s.stdout, "ID", "TYPE", "STATUS", "ATTEMPTS", "LAST STATUS", "LAST ERROR", "CREATED")
	for _, d := range answer.Deliveries {
		code := ""
		if d.LastStatusCode != nil {
			code = fmt.Sprint(*d.LastStatusCode)
		}
		t.row(d.ID, d.Type, d.Status, fmt.Sprint(d.Attempts), code, d.LastError, d.CreatedAt)
	}
	t.flush()
	return nil
}

func deliveriesResend(s *session, args []string) error {
	f := newFlags("deliveries resend ID", "Queues one more attempt at a delivery.")
	pos, err := s.parse(f, args, "ID")
	if err != nil {
		return err
	}
	var d delivery
	raw, err := s.api.do(s.ctx, http.MethodPost, path("deliveries", pos[0], "resend"), nil, nil, nil, &d)
	if err != nil {
		return err
	}
	if s.json {
		writeJSON(s.stdout, raw)
		return nil
	}
	fmt.Fprintf(s.stdout, "delivery %s: %s\n", cell(d.ID), cell(d.Status))
	return nil
}

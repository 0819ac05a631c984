package stripefake

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
)

type eventRec struct {
	id, typ         string
	created         int64
	pendingWebhooks int64
	raw             []byte // compact
}

func (r *eventRec) key() (int64, string) { return r.created, r.id }

// AddEvent adds events, each replacing any with its id. Each is a whole
// event object, served as given; it needs an id, and its type, created and
// pending_webhooks answer the filters: pending_webhooks above 0 is an event
// Stripe has not delivered (delivery_success=false). Example("event") is
// Stripe's own to start from.
func (f *Fake) AddEvent(raws ...[]byte) {
	f.tb.Helper()
	recs := make([]*eventRec, 0, len(raws))
	for _, raw := range raws {
		var head struct {
			ID              string `json:"id"`
			Type            string `json:"type"`
			Created         int64  `json:"created"`
			PendingWebhooks int64  `json:"pending_webhooks"`
		}
		var buf bytes.Buffer
		if err := json.Unmarshal(raw, &head); err != nil || head.ID == "" {
			f.tb.Fatalf("stripefake: an event needs an id, a type and a created time (%v): %s", err, raw)
		}
		if err := json.Compact(&buf, raw); err != nil {
			f.tb.Fatalf("stripefake: event %s: %v", head.ID, err)
		}
		recs = append(recs, &eventRec{id: head.ID, typ: head.Type, created: head.Created,
			pendingWebhooks: head.PendingWebhooks, raw: buf.Bytes()})
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range recs {
		f.events.put(r)
	}
}

// typeMatches is Stripe's type filter: an exact type, or a prefix ending
// in "*" ("charge.*").
func typeMatches(filter, typ string) bool {
	if prefix, ok := strings.CutSuffix(filter, "*"); ok {
		return strings.HasPrefix(typ, prefix)
	}
	return filter == typ
}

func (f *Fake) listEvents(q listQuery) ([]byte, *apiError) {
	if err := checkExpansions(q.expand, nil); err != nil {
		return nil, err
	}
	typ, types := q.values.Get("type"), arrayParam(q.values, "types")
	if typ != "" && len(types) > 0 {
		return nil, invalidRequest(http.StatusBadRequest, "", "types",
			"You may only specify one of these parameters: type, types.")
	}
	var delivered *bool
	switch q.values.Get("delivery_success") {
	case "true":
		delivered = new(true)
	case "false":
		delivered = new(false)
	case "":
	default:
		return nil, invalidRequest(http.StatusBadRequest, "", "delivery_success", "Invalid boolean: %s",
			q.values.Get("delivery_success"))
	}
	recs, hasMore, err := page(&f.events, q, "event", func(r *eventRec) bool {
		if typ != "" && !typeMatches(typ, r.typ) {
			return false
		}
		if len(types) > 0 && !slices.ContainsFunc(types, func(t string) bool { return typeMatches(t, r.typ) }) {
			return false
		}
		return delivered == nil || *delivered == (r.pendingWebhooks == 0)
	})
	if err != nil {
		return nil, err
	}
	size := 0
	for _, r := range recs {
		size += len(r.raw) + 1
	}
	b := pageBuffer(1, size)
	renderList(b, "/v1/events", hasMore, len(recs), func(i int) { b.Write(recs[i].raw) })
	return b.Bytes(), nil
}

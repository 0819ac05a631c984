package stripe

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	stripego "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/form"
)

// EventLister lists events through stripe-go's backend (authentication,
// Stripe-Version, retries, STRIPE_API_BASE) and its list iterator, but
// decodes each event itself. event.Client.List would decode into
// stripego.Event, whose typed fields fail on shapes of other API versions, and
// whose re-encoding would not be what Stripe sent; the inbox keeps events
// as Stripe sent them, like the webhook does.
type EventLister struct {
	backend stripego.Backend
	key     string
}

// NewEventLister lists events from Stripe's API with the key apiKey, at
// apiBase when it is set (stripe-mock, a test server) or at Stripe's own.
// It uses a client of its own, never stripe-go's global key or backend.
func NewEventLister(apiKey, apiBase string) *EventLister {
	return &EventLister{backend: newBackend(apiBase), key: apiKey}
}

// newBackend is stripe-go's API backend at apiBase when it is set, else at
// Stripe's own, with a configuration of its own: never stripe-go's global
// key or backend.
func newBackend(apiBase string) stripego.Backend {
	cfg := &stripego.BackendConfig{
		// Errors come back to the run, which records them; stripe-go's
		// default logger would print them again to stderr.
		LeveledLogger: &stripego.LeveledLogger{Level: stripego.LevelNull},
	}
	if apiBase != "" {
		cfg.URL = stripego.String(apiBase)
	}
	return stripego.GetBackendWithConfig(stripego.APIBackend, cfg)
}

// ListedEvent is one event Stripe listed.
type ListedEvent struct {
	ID      string
	Type    string
	Created time.Time
	// Raw is the event's JSON as Stripe sent it (compacted), owned by the
	// callee.
	Raw []byte
	// Handled is false for an event of a type the service does not act on
	// (a server that ignores the types filter).
	Handled bool
}

// rawEvent is one listed event: the fields the pull needs, and the event's
// JSON as Stripe sent it (compacted).
type rawEvent struct {
	ID      string // the iterator pages with starting_after = the last ID
	Type    string
	Created int64
	Raw     []byte
}

// UnmarshalJSON keeps the event's bytes and reads only id, type and created,
// so any API version's event decodes.
func (e *rawEvent) UnmarshalJSON(b []byte) error {
	var head struct {
		ID      string `json:"id"`
		Type    string `json:"type"`
		Created int64  `json:"created"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return err
	}
	e.ID, e.Type, e.Created, e.Raw = head.ID, head.Type, head.Created, buf.Bytes()
	return nil
}

// rawEventList is one page of /v1/events.
type rawEventList struct {
	stripego.APIResource
	stripego.ListMeta
	Data []*rawEvent `json:"data"`
}

// listPageSize is Stripe's largest page.
const listPageSize = 100

// ListEvents lists the events of the types the service handles created at
// or after since, page by page (memory holds one page), and calls each for
// every one.
func (s *EventLister) ListEvents(ctx context.Context, since time.Time, onlyFailed bool,
	each func(ListedEvent) error) error {
	types := HandledTypes()
	params := &stripego.EventListParams{
		ListParams:   stripego.ListParams{Context: ctx, Limit: stripego.Int64(listPageSize)},
		CreatedRange: &stripego.RangeQueryParams{GreaterThanOrEqual: since.Unix()},
		Types:        stripego.StringSlice(types),
	}
	if onlyFailed {
		params.DeliverySuccess = stripego.Bool(false)
	}
	var prevFirst string
	it := stripego.GetIter(params, func(p *stripego.Params, b *form.Values) ([]any, stripego.ListContainer, error) {
		list := &rawEventList{}
		err := s.backend.CallRaw(http.MethodGet, "/v1/events", s.key, b, p, list)
		if err == nil && len(list.Data) > 0 {
			// A server that ignores starting_after would send the same
			// page for ever.
			if list.Data[0].ID == prevFirst {
				list.HasMore = false
				return nil, list, fmt.Errorf("the page after %s repeats the previous page", prevFirst)
			}
			prevFirst = list.Data[0].ID
		}
		items := make([]any, len(list.Data))
		for i, e := range list.Data {
			items[i] = e
		}
		return items, list, err
	})
	for it.Next() {
		e := it.Current().(*rawEvent)
		listed := ListedEvent{ID: e.ID, Type: e.Type, Created: time.Unix(e.Created, 0).UTC(), Raw: e.Raw,
			Handled: e.ID != "" && slices.Contains(types, e.Type)}
		if err := each(listed); err != nil {
			return err
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("list Stripe events: %w", err)
	}
	return nil
}

package stripe

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// envelope is the event wrapper. data.object stays raw because its shape
// depends on type, and unhandled types never need it decoded.
type envelope struct {
	ID       string `json:"id"`
	Object   string `json:"object"`
	Type     string `json:"type"`
	Created  int64  `json:"created"`
	Livemode bool   `json:"livemode"`
	Data     struct {
		Object payloadSlice `json:"object"`
	} `json:"data"`
}

// payloadSlice is a JSON value left undecoded, as json.RawMessage, but
// kept as a slice of the body being decoded instead of a copy: data.object
// is most of an event, and the envelope only looks at its first byte.
// encoding/json hands UnmarshalJSON a slice of its input; it is kept only
// while the body itself is (decodeEnvelope's callers decode the object
// before they return).
type payloadSlice []byte

// UnmarshalJSON keeps b itself.
func (p *payloadSlice) UnmarshalJSON(b []byte) error {
	*p = b
	return nil
}

// Decode parses a Stripe event body. A body that is not a Stripe event object
// (not JSON, no "id" starting "evt_", no "type", "object" != "event", missing
// data.object) returns an error wrapping ErrNotEvent. A handled type whose
// object lacks what the ledger needs (no payment intent id, non-positive
// amount, bad currency) returns an error wrapping ErrMalformed with a message
// naming the field. Every handled object's ids of its money movement go to
// Refs, so the ledger can link them.
//
// Unknown fields and any api_version are accepted, because Stripe adds fields
// without notice and the account's api_version can change independently of
// this code. With ErrMalformed the returned Event still carries the envelope
// fields (ID, Type, Created, Livemode), so the caller can record which event
// was rejected; Payment, Refund, Refunds, Dispute and Failure are then
// empty.
func Decode(payload []byte) (Event, error) {
	ev, object, err := decodeEnvelope(payload)
	if err != nil {
		return Event{}, err
	}
	switch ev.Type {
	case typePaymentIntentSucceeded:
		err = decodePaymentIntentSucceeded(object, &ev)
	case typeCheckoutSessionCompleted, typeCheckoutAsyncSucceeded:
		err = decodeCheckoutSessionCompleted(object, &ev)
	case typeInvoicePaid:
		err = decodeInvoicePaid(object, &ev)
	case typeInvoicePaymentPaid:
		err = decodeInvoicePaymentPaid(object, &ev)
	case typeChargeRefunded:
		err = decodeChargeRefunded(object, &ev)
	case typeChargeRefundUpdated, typeRefundCreated, typeRefundUpdated, typeRefundFailed:
		err = decodeRefundEvent(object, &ev)
	case typeDisputeCreated, typeDisputeUpdated, typeDisputeFundsWithdrawn, typeDisputeFundsReinstated, typeDisputeClosed:
		err = decodeDisputeEvent(object, &ev)
	case typePaymentIntentPaymentFailed:
		err = decodePaymentIntentFailed(object, &ev)
	case typeCheckoutAsyncPaymentFailed:
		err = decodeCheckoutFailed(object, &ev)
	case typeInvoicePaymentFailed:
		err = decodeInvoiceFailed(object, &ev)
	}
	if err != nil {
		// Never hand back a half-built payment or refund next to an error.
		ev.Kind, ev.Payment, ev.Refund, ev.IgnoreReason = KindIgnored, nil, nil, ""
		ev.Refs, ev.Refunds, ev.Dispute, ev.Failure = Refs{}, nil, nil, nil
		return ev, fmt.Errorf("%w: %s %s: %v", ErrMalformed, ev.Type, ev.ID, err)
	}
	return ev, nil
}

// DecodeEnvelope checks that a body is a Stripe event, as Decode does, and
// reads its envelope fields (ID, Type, Created, Livemode) without judging
// its object: what the inbox needs to store an event, at half the cost of
// Decode. Its errors wrap ErrNotEvent.
func DecodeEnvelope(payload []byte) (Event, error) {
	ev, _, err := decodeEnvelope(payload)
	return ev, err
}

func decodeEnvelope(payload []byte) (Event, json.RawMessage, error) {
	env, ok := quickEnvelope(payload)
	if !ok {
		// A variable of its own: encoding/json moves it to the heap, and
		// the quick path's need not go there too.
		var slow envelope
		if err := decodeJSON(payload, &slow, "body"); err != nil {
			return Event{}, nil, fmt.Errorf("%w: %v", ErrNotEvent, err)
		}
		env = slow
	}
	switch {
	case !strings.HasPrefix(env.ID, "evt_"):
		return Event{}, nil, fmt.Errorf("%w: id %q does not start with evt_", ErrNotEvent, env.ID)
	case env.Object != "event":
		return Event{}, nil, fmt.Errorf("%w: object is %q, want \"event\"", ErrNotEvent, env.Object)
	case env.Type == "":
		return Event{}, nil, fmt.Errorf("%w: type is missing", ErrNotEvent)
	case len(env.Data.Object) == 0 || env.Data.Object[0] != '{':
		// Absent, null, or not an object: nothing an event could describe.
		return Event{}, nil, fmt.Errorf("%w: data.object is missing or not an object", ErrNotEvent)
	}
	return Event{ID: env.ID, Type: env.Type, Created: time.Unix(env.Created, 0).UTC(), Livemode: env.Livemode, Kind: KindIgnored},
		json.RawMessage(env.Data.Object), nil
}

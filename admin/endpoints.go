package admin

import (
	"net/http"

	"github.com/payrecon/reconciler/internal/notify"
)

// Page sizes of GET /admin/endpoints/{id}/deliveries.
const (
	defaultDeliveryLimit = 100
	maxDeliveryLimit     = 1000
)

// notifications serves the endpoints that subscribe to invoice changes and
// their deliveries.
type notifications struct {
	api   *API
	store *notify.Store
}

// MountNotifications adds the routes of outbound notifications, backed by
// store, behind the same token as every other route.
func (a *API) MountNotifications(store *notify.Store) {
	n := notifications{api: a, store: store}
	a.Handle("POST /admin/endpoints", a.errs(n.create))
	a.Handle("GET /admin/endpoints", a.errs(n.list))
	a.Handle("DELETE /admin/endpoints/{id}", a.errs(n.delete))
	a.Handle("GET /admin/endpoints/{id}/deliveries", a.errs(n.deliveries))
	a.Handle("POST /admin/deliveries/{id}/resend", a.errs(n.resend))
}

type newEndpoint struct {
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Description string   `json:"description"`
}

// createdEndpoint shows the secret, this once.
type createdEndpoint struct {
	notify.Endpoint
	Secret string `json:"secret"`
}

func (n notifications) create(w http.ResponseWriter, r *http.Request) error {
	var body newEndpoint
	if err := n.api.DecodeJSON(w, r, &body); err != nil {
		return err
	}
	ep, secret, err := n.store.CreateEndpoint(r.Context(), body.URL, body.Events, body.Description)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/admin/endpoints/"+ep.ID)
	n.api.WriteJSON(w, http.StatusCreated, createdEndpoint{Endpoint: ep, Secret: secret})
	return nil
}

func (n notifications) list(w http.ResponseWriter, r *http.Request) error {
	eps, err := n.store.ListEndpoints(r.Context())
	if err != nil {
		return err
	}
	if eps == nil {
		eps = []notify.Endpoint{}
	}
	n.api.WriteJSON(w, http.StatusOK, map[string][]notify.Endpoint{"endpoints": eps})
	return nil
}

func (n notifications) delete(w http.ResponseWriter, r *http.Request) error {
	if err := n.store.DeleteEndpoint(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (n notifications) deliveries(w http.ResponseWriter, r *http.Request) error {
	limit, err := parseLimit(r.URL.Query().Get("limit"), defaultDeliveryLimit, maxDeliveryLimit)
	if err != nil {
		return err
	}
	ds, err := n.store.ListDeliveries(r.Context(), r.PathValue("id"), r.URL.Query().Get("status"), limit)
	if err != nil {
		return err
	}
	if ds == nil {
		ds = []notify.Delivery{}
	}
	n.api.WriteJSON(w, http.StatusOK, map[string][]notify.Delivery{"deliveries": ds})
	return nil
}

func (n notifications) resend(w http.ResponseWriter, r *http.Request) error {
	d, err := n.store.Resend(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	n.api.WriteJSON(w, http.StatusAccepted, d)
	return nil
}

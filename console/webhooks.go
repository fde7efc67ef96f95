package console

import (
	"context"
	"net/http"
	"time"

	"github.com/leakguard/leakguard/keystore"
)

// The Webhooks page lists the account's webhook endpoints (managed through
// /v1/webhook-endpoints, docs/api.md) with each one's latest delivery. It
// is read-only: an endpoint's signing secret is never shown here.

type webhookRow struct {
	Endpoint keystore.WebhookEndpoint
	Last     *keystore.WebhookDelivery
}

type webhooksData struct {
	Endpoints []webhookRow
	Next      string
	Paged     bool
}

func (c *Console) webhooksPage(w http.ResponseWriter, r *http.Request, s *session) {
	p := c.basePage(r, s, "Webhooks", "webhooks")
	ws, ok := c.store.(keystore.WebhookStore)
	if !ok {
		c.errorPage(w, r, s, http.StatusNotFound, "Not found", "This server keeps no webhook endpoints.")
		return
	}
	pg := keystore.Page{Limit: leaksPerPage + 1}
	if after := r.URL.Query().Get("after"); validID(after) {
		pg.StartingAfter = after
	}
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	eps, err := ws.ListWebhookEndpoints(ctx, s.account.ID, pg)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	d := webhooksData{Paged: pg.StartingAfter != ""}
	if len(eps) > leaksPerPage {
		eps = eps[:leaksPerPage]
		d.Next = eps[len(eps)-1].ID
	}
	for _, e := range eps {
		e.Secret = "" // never on a page
		row := webhookRow{Endpoint: e}
		if ds, err := ws.ListWebhookDeliveries(ctx, s.account.ID, e.ID, keystore.Page{Limit: 1}); err == nil && len(ds) > 0 {
			row.Last = &ds[0]
		}
		d.Endpoints = append(d.Endpoints, row)
	}
	p.Data = d
	c.render(w, r, http.StatusOK, "webhooks", p)
}

// TagOf is a delivery status's badge class.
func (webhooksData) TagOf(d *keystore.WebhookDelivery) string {
	switch d.Status {
	case keystore.DeliveryDelivered:
		return "ok"
	case keystore.DeliveryPending:
		return "warn"
	}
	return "bad"
}

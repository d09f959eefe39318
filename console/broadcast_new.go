package console

import (
	"net/http"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/audience"
	"github.com/socialaid-vn/gateway/console/form"
)

// composeData is what the composer page shows.
type composeData struct {
	Form       *form.Broadcast
	Errors     form.Errors
	Communes   []string // the communes the person may pick
	Categories []string
	Channels   []gateway.Channel
	Everywhere bool // may send to every commune (empty selection)
	SMSPrice   int
}

func (c *Console) composeData(r *http.Request, f *form.Broadcast, errs form.Errors) composeData {
	p := reqCtx(r).p
	d := composeData{Form: f, Errors: errs, Categories: audience.Categories, Channels: c.bc.Channels(),
		Everywhere: p.Everywhere(), SMSPrice: c.cfg.SMSPrice}
	for _, cm := range c.cfg.Communes {
		if p.Covers(cm) {
			d.Communes = append(d.Communes, cm)
		}
	}
	return d
}

// broadcastNew serves the three-step composer: audience, message, schedule. The recipients per
// channel, the SMS as it will go out and its cost update as the form changes (console.js posts
// it to /console/broadcasts/preview).
func (c *Console) broadcastNew(w http.ResponseWriter, r *http.Request) {
	f := &form.Broadcast{Channels: nil}
	for _, ch := range c.bc.Channels() {
		f.Channels = append(f.Channels, string(ch))
	}
	d := c.composeData(r, f, nil)
	if !d.Everywhere && len(d.Communes) == 1 {
		f.Communes = d.Communes
	}
	c.render(w, r, 0, "compose", view{Title: c.T(r, "compose.title"), Nav: "broadcasts", Data: d})
}

package console

import (
	"encoding/json"
	"net/http"
	"time"
)

// importRecord is one upload, as the records page lists it.
type importRecord struct {
	At        time.Time `json:"at"`
	By        string    `json:"by"`
	Kind      string    `json:"kind"`
	File      string    `json:"file"`
	Imported  int       `json:"imported"`
	Unchanged int       `json:"unchanged"`
	Rejected  int       `json:"rejected"`
	Changes   int       `json:"status_changes"`
	Communes  []string  `json:"communes,omitempty"` // the uploader's (empty: every commune)
}

const importsKey = "staff:{staff}:imports"

type recordsData struct {
	Last   []importRecord
	Result *importResult
	Error  string
	Kind   string
	Scoped bool // only the person's communes are imported
}

// lastImports returns the recent uploads the principal may see (its communes'), newest first.
func (c *Console) lastImports(r *http.Request) []importRecord {
	raw, err := c.rdb.LRange(r.Context(), importsKey, 0, 99).Result()
	if err != nil {
		c.log.Warn("console imports list", "err", err)
		return nil
	}
	p := reqCtx(r).p
	var out []importRecord
	for _, s := range raw {
		var ir importRecord
		if json.Unmarshal([]byte(s), &ir) != nil {
			continue
		}
		if p.Everywhere() || len(ir.Communes) > 0 && p.CoversAll(ir.Communes) {
			out = append(out, ir)
		}
		if len(out) == 20 {
			break
		}
	}
	return out
}

// recordsShow is the upload form and the last imports.
func (c *Console) recordsShow(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, 0, "records", view{Title: c.T(r, "records.title"), Nav: "records",
		Data: recordsData{Last: c.lastImports(r), Kind: "applications", Scoped: !reqCtx(r).p.Everywhere()}})
}

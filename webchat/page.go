package webchat

import (
	"embed"
	"encoding/json"
	"html/template"
	"io/fs"
	"net/http"
	"strings"

	"github.com/socialaid-vn/gateway/i18n"
)

//go:embed assets
var assets embed.FS

func staticFS() fs.FS {
	sub, _ := fs.Sub(assets, "assets")
	return sub
}

var pageTmpl = template.Must(template.ParseFS(assets, "assets/page.html"))

// textKeys are the catalog texts the script shows (i18n/*/webchat.toml).
var textKeys = []string{"title", "subtitle", "placeholder", "send", "you", "office", "announcement",
	"offline", "error", "too_long", "open", "close", "privacy", "start", "lang_switch", "welcome"}

// buildScript prefixes the chat script with its texts in every language, so one file serves the
// page and the embedded widget without another request.
func (c *Channel) buildScript() ([]byte, error) {
	texts := map[string]map[string]string{}
	for _, l := range i18n.Langs {
		texts[l] = map[string]string{}
		for _, k := range textKeys {
			texts[l][k] = c.cat.T(l, "webchat."+k)
		}
	}
	js, err := json.Marshal(texts)
	if err != nil {
		return nil, err
	}
	src, err := assets.ReadFile("assets/webchat.js")
	if err != nil {
		return nil, err
	}
	out := "/* Tổng đài trợ cấp xã hội — web chat. Embed: <script src=\"https://GATEWAY/webchat.js\" defer></script> */\n" +
		"var GW_CHAT_TEXTS = " + string(js) + ";\n" + string(src)
	return []byte(out), nil
}

func (c *Channel) serveScript(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	// The widget is loaded by the portal's pages: it must be readable cross-origin.
	w.Header().Set("Cross-Origin-Resource-Policy", "cross-origin")
	_, _ = w.Write(c.script)
}

// page serves the citizen chat page (GET /).
func (c *Channel) page(w http.ResponseWriter, r *http.Request) {
	lang := c.langHint(r)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'self'; base-uri 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	t := func(key string) string { return c.cat.T(lang, "webchat."+key) }
	other := "en"
	if lang == "en" {
		other = "vi"
	}
	_ = pageTmpl.Execute(w, map[string]any{
		"Lang": lang, "Other": other, "Title": t("title"), "Subtitle": t("subtitle"),
		"Privacy": t("privacy"), "Switch": t("lang_switch"), "Noscript": t("noscript"),
		"Hotline": strings.TrimSpace(t("hotline")),
	})
}

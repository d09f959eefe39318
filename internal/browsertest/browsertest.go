// Package browsertest starts Debian's Chromium headless for browser tests driven by chromedp.
// Each call gets a browser of its own with a fresh profile (no cookies shared between tests),
// closed when the test ends. Without Chromium the test is skipped, saying so; with CI set it
// fails instead, so CI always runs the browser tests.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Path finds the Chromium binary: $CHROMIUM, /usr/bin/chromium, or chromium on PATH.
func Path() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	p, _ := exec.LookPath("chromium")
	return p
}

// Options shape a browser.
type Options struct {
	Width, Height int    // window size (default 1280×900)
	Lang          string // Accept-Language (default "vi-VN,vi")
	Mobile        bool   // emulate a phone's touch and scale (with a small Width)
}

// New returns a chromedp context on a new headless browser, and a cancel the test may call
// early (it is also called when the test ends). JavaScript dialogs (confirm) are accepted.
func New(t *testing.T, o Options) (context.Context, context.CancelFunc) {
	t.Helper()
	path := Path()
	if path == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("browsertest: chromium not found and CI is set (apt-get install chromium)")
		}
		t.Skip("browsertest: chromium not installed (apt-get install chromium); browser test skipped")
	}
	if o.Width == 0 {
		o.Width, o.Height = 1280, 900
	}
	if o.Lang == "" {
		o.Lang = "vi-VN,vi"
	}
	// A profile of its own, removed once the browser has gone (it writes to it while exiting,
	// so removal is retried for a moment).
	dir, err := os.MkdirTemp("", "browsertest-")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("lang", o.Lang[:2]),
		chromedp.Flag("accept-lang", o.Lang),
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(o.Width, o.Height),
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	stop := func() { cancel(); acancel() }
	t.Cleanup(func() {
		stop()
		deadline := time.Now().Add(10 * time.Second)
		for os.RemoveAll(dir) != nil && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
	})
	chromedp.ListenTarget(ctx, func(ev any) {
		if _, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			go chromedp.Run(ctx, page.HandleJavaScriptDialog(true))
		}
	})
	start := time.Now()
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("browsertest: start %s: %v", path, err)
	}
	if o.Mobile {
		// Headless windows are at least 500 px wide: a phone is emulated instead.
		if err := chromedp.Run(ctx, chromedp.EmulateViewport(int64(o.Width), int64(o.Height), chromedp.EmulateMobile, chromedp.EmulateScale(1))); err != nil {
			t.Fatalf("browsertest: emulate a phone: %v", err)
		}
	}
	t.Logf("browsertest: chromium started in %v", time.Since(start).Round(time.Millisecond))
	return ctx, stop
}

// Run runs actions with a deadline, failing the test with what on error.
func Run(t *testing.T, ctx context.Context, what string, timeout time.Duration, actions ...chromedp.Action) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := chromedp.Run(tctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

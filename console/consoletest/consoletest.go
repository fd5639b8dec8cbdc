// Package consoletest drives Debian's Chromium, headless, for tests of the
// web console: a browser per test, every JavaScript dialog and every
// console message recorded (an alert means injected script ran; a CSP
// violation means the page broke its policy), and screenshots saved to a
// folder the test prints ($FOUNTAIN_SCREENSHOTS, or a temporary one).
//
// Without Chromium the test is skipped, or, with CI=true, fails:
// scripts/ensure-docker installs it.
package consoletest

import (
	"context"
	"fmt"
	"iter"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Browser is one headless Chromium for a test.
type Browser struct {
	Ctx context.Context // a tab: pass it to chromedp.Run
	// StepTimeout bounds each Do and Value (default DefaultStepTimeout):
	// a step that waits for a host may need more.
	StepTimeout time.Duration
	t           testing.TB
	dir         string

	mu       sync.Mutex
	dialogs  []string
	messages []string
}

// chromium finds the browser.
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// New starts Chromium for t (skipped without it, failed in CI). It stops
// when the test ends. timeout bounds the whole browser session.
func New(t testing.TB, timeout time.Duration) *Browser {
	t.Helper()
	bin := chromium()
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("Chromium is not installed (CI=true): scripts/ensure-docker installs it (apt-get install chromium)")
		}
		t.Skip("Chromium is not installed: apt-get install chromium")
	}
	profile := t.TempDir()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	b := &Browser{Ctx: ctx, StepTimeout: DefaultStepTimeout, t: t, dir: screenshotDir(t)}
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
		t.Fatalf("start Chromium: %v", err)
	}
	record(b, chromedp.Events(ctx, page.JavascriptDialogOpening), &b.dialogs, func(e page.EventJavascriptDialogOpening) string {
		// Close it, so that the page goes on (and the test sees it).
		go func() {
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}()
		return string(e.Type) + ": " + e.Message
	})
	record(b, chromedp.Events(ctx, runtime.ConsoleAPICalled), &b.messages, func(e runtime.EventConsoleAPICalled) string {
		var parts []string
		for _, a := range e.Args {
			parts = append(parts, string(a.Value))
		}
		return string(e.Type) + ": " + strings.Join(parts, " ")
	})
	record(b, chromedp.Events(ctx, runtime.ExceptionThrown), &b.messages, func(e runtime.EventExceptionThrown) string {
		return "exception: " + e.ExceptionDetails.Text
	})
	record(b, chromedp.Events(ctx, cdplog.EntryAdded), &b.messages, func(e cdplog.EventEntryAdded) string {
		return string(e.Entry.Level) + " (" + string(e.Entry.Source) + "): " + e.Entry.Text
	})
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("Chromium's log: %v", err)
	}
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	return b
}

var (
	dirOnce sync.Once
	dirPath string
)

// screenshotDir is $FOUNTAIN_SCREENSHOTS, or a folder of the test
// process's own (kept after the test, to look at).
func screenshotDir(t testing.TB) string {
	dirOnce.Do(func() {
		dirPath = os.Getenv("FOUNTAIN_SCREENSHOTS")
		if dirPath == "" {
			dirPath = filepath.Join(os.TempDir(), fmt.Sprintf("fountain-screenshots-%d", os.Getpid()))
		}
		_ = os.MkdirAll(dirPath, 0o755)
	})
	t.Logf("screenshots in %s", dirPath)
	return dirPath
}

// record appends what each event says to a list, until the browser ends.
func record[E any](b *Browser, events iter.Seq2[E, error], to *[]string, say func(E) string) {
	go func() {
		for ev, err := range events {
			if err != nil {
				return
			}
			line := say(ev)
			b.mu.Lock()
			*to = append(*to, line)
			b.mu.Unlock()
		}
	}()
}

// DefaultStepTimeout bounds each Do and Value unless StepTimeout says
// otherwise.
const DefaultStepTimeout = 30 * time.Second

// Do runs chromedp actions, failing the test on error.
func (b *Browser) Do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, b.StepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v\nbrowser console: %s", what, err, strings.Join(b.Messages(), "\n"))
	}
}

// Screenshot saves the whole page as NAME.png.
func (b *Browser) Screenshot(name string) string {
	b.t.Helper()
	png, err := chromedp.Run(b.Ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(b.dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	return p
}

// ScreenshotView saves what the window shows (not the whole page) as
// NAME.png: smaller, for documentation.
func (b *Browser) ScreenshotView(name string) string {
	b.t.Helper()
	png := Value(b, "screenshot "+name, chromedp.CaptureScreenshot())
	p := filepath.Join(b.dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	return p
}

// Dialogs are the JavaScript dialogs (alert, confirm, ...) that opened.
func (b *Browser) Dialogs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.dialogs...)
}

// Messages are the console messages and exceptions so far.
func (b *Browser) Messages() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.messages...)
}

// Value runs an action that returns a value, failing the test on error.
func Value[T any](b *Browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, b.StepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v\nbrowser console: %s", what, err, strings.Join(b.Messages(), "\n"))
	}
	return v
}

// Text is the text of the first element a CSS selector finds.
func (b *Browser) Text(css string) string {
	b.t.Helper()
	return Value(b, "text of "+css, chromedp.Text(chromedp.CSS(css)))
}

// CSPViolations are the console messages that report a broken
// Content-Security-Policy.
func (b *Browser) CSPViolations() []string {
	var out []string
	for _, m := range b.Messages() {
		if strings.Contains(m, "Content Security Policy") {
			out = append(out, m)
		}
	}
	return out
}

// TryText is the text of the first element a CSS selector finds, or an
// error (a page that is reloading, say).
func (b *Browser) TryText(css string) (string, error) {
	ctx, cancel := context.WithTimeout(b.Ctx, 5*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
}

package standin

import (
	"io"
	"log"
	"os"
	"testing"

	"github.com/fountainai/fountain/sandbox/sandboxtest"
)

// testDirs are removed after the tests.
var testDirs []string

func TestMain(m *testing.M) {
	code := m.Run()
	sandboxtest.Teardown()
	for _, d := range testDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

func nilLogger() *log.Logger { return log.New(io.Discard, "", 0) }

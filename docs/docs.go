// Package docs holds Fountain's documentation pages (Markdown) and their
// images, embedded so that the web console can serve them offline.
package docs

import "embed"

// FS holds every page (NAME.md) and image (NAME.png) of this folder.
//
//go:embed *.md *.png
var FS embed.FS

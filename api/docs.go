package api

import (
	"embed"
	"net/http"
)

// The docs are Swagger UI (Apache-2.0, see docs/LICENSE), embedded so that
// they work offline: no CDN.
//
//go:embed docs
var docsFS embed.FS

const docsPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Fountain API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
<style>body{margin:0}.topbar{display:none}</style>
</head>
<body>
<div id="docs"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#docs",
  deepLinking: true,
  validatorUrl: null
});
</script>
</body>
</html>
`

// serveDocs serves the interactive docs page and its embedded assets.
func serveDocs(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	switch file {
	case "", "index.html":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(docsPage))
	case "swagger-ui.css", "swagger-ui-bundle.js", "LICENSE", "NOTICE":
		w.Header().Set("Cache-Control", "public, max-age=86400")
		http.ServeFileFS(w, r, docsFS, "docs/"+file)
	default:
		http.NotFound(w, r)
	}
}

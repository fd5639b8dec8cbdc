package console

import (
	"bytes"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
)

// docLink is a documentation page the console links to.
type docLink struct {
	Name, Title string
}

// docLinks are the documentation pages (the Markdown files of
// Config.Docs), by name.
func (c *Console) docLinks() []docLink {
	c.docsOnce.Do(func() {
		if c.cfg.Docs == nil {
			return
		}
		names, _ := fs.Glob(c.cfg.Docs, "*.md")
		for _, n := range names {
			md, err := fs.ReadFile(c.cfg.Docs, n)
			if err == nil {
				name := strings.TrimSuffix(n, ".md")
				c.docs = append(c.docs, docLink{Name: name, Title: docTitle(name, md)})
			}
		}
		sort.Slice(c.docs, func(i, j int) bool { return c.docs[i].Name < c.docs[j].Name })
	})
	return c.docs
}

// docTitle is a page's first heading, or its name.
func docTitle(name string, md []byte) string {
	for _, l := range strings.Split(string(md), "\n") {
		if t, ok := strings.CutPrefix(l, "# "); ok {
			return strings.TrimSpace(t)
		}
	}
	return name
}

// markdown renders documentation. Raw HTML in it is left out (goldmark's
// default), so a page holds nothing but what Markdown makes.
var markdown = goldmark.New(goldmark.WithExtensions(extension.Table))

// docPage shows a documentation page (NAME or NAME.md), or serves one of
// its images (NAME.png).
func (c *Console) docPage(w http.ResponseWriter, r *http.Request, s *session) {
	name := path.Base(r.PathValue("name"))
	if c.cfg.Docs == nil || strings.HasPrefix(name, ".") {
		c.refuse(w, r, http.StatusNotFound, "There is no such documentation page.")
		return
	}
	if path.Ext(name) == ".png" {
		b, err := fs.ReadFile(c.cfg.Docs, name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(b)
		return
	}
	name = strings.TrimSuffix(name, ".md")
	md, err := fs.ReadFile(c.cfg.Docs, name+".md")
	if err != nil {
		c.refuse(w, r, http.StatusNotFound, "There is no such documentation page.")
		return
	}
	var buf bytes.Buffer
	if err := markdown.Convert(md, &buf); err != nil {
		c.refuse(w, r, http.StatusInternalServerError, "The page could not be rendered.")
		return
	}
	// goldmark escapes text and drops raw HTML: its output is safe to
	// include as it is.
	c.render(w, r, http.StatusOK, "doc", &page{Title: docTitle(name, md), Nav: "docs", Data: template.HTML(buf.String())})
}

package console

import (
	"bytes"
	"html/template"
	"net/http"
	"sort"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
)

// docLink is a documentation page the console links to.
type docLink struct {
	Name, Title string
}

// docLinks are the documentation pages, by name.
func (c *Console) docLinks() []docLink {
	out := make([]docLink, 0, len(c.cfg.Docs))
	for name, md := range c.cfg.Docs {
		out = append(out, docLink{Name: name, Title: docTitle(name, md)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
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
// default), so a page can hold nothing but what Markdown makes.
var markdown = goldmark.New(goldmark.WithExtensions(extension.Table))

// docPage shows a documentation page.
func (c *Console) docPage(w http.ResponseWriter, r *http.Request, s *session) {
	name := strings.TrimSuffix(r.PathValue("name"), ".md")
	md, ok := c.cfg.Docs[name]
	if !ok {
		c.refuse(w, r, http.StatusNotFound, "There is no such documentation page.")
		return
	}
	var buf bytes.Buffer
	if err := markdown.Convert(md, &buf); err != nil {
		c.refuse(w, r, http.StatusInternalServerError, "The page could not be rendered.")
		return
	}
	// goldmark escapes text and drops raw HTML: its output is safe to
	// include as is.
	c.render(w, r, http.StatusOK, "doc", &page{Title: docTitle(name, md), Nav: "docs",
		Data: template.HTML(buf.String())})
}

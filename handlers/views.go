package handlers

import (
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"regexp"
	"strings"

	"github.com/gofiber/template/html/v2"
)

// views renders the embedded templates for Fiber (fiber.Views) with
// Fiber's html engine. Each file is a template named by its path without
// ".html"; a layout shows the page where it says {{embed}}.
//
// The engine renders a page inside a layout under one exclusive lock (it
// sets the layout's embed function per request), so full pages would be
// rendered one at a time whatever the cores. Load therefore adds, for
// each (layout, page) pair, one more template to the engine's set: the
// layout's source with {{embed}} turned into {{template "<page>" .}}.
// Render asks the engine for that template without a layout, which reads
// the set under a shared lock only: rendering shares nothing but
// read-only templates.
type views struct {
	*html.Engine
	fsys fs.FS
}

// layoutDir holds the layouts; every other template can be shown in one.
const layoutDir = "layouts/"

// embedAction is the layout's placeholder for the page.
var embedAction = regexp.MustCompile(`\{\{-?\s*embed\s*-?\}\}`)

// newViews loads every .html file of fsys with funcs, and each layout
// once per other template.
func newViews(fsys fs.FS, funcs template.FuncMap) (*views, error) {
	e := html.NewFileSystem(http.FS(fsys), ".html")
	e.AddFuncMap(funcs)
	v := &views{Engine: e, fsys: fsys}
	if err := v.Load(); err != nil {
		return nil, err
	}
	return v, nil
}

// Load is part of fiber.Views (Fiber calls it again when the app is
// made): the engine parses every file, then each layout is added once per
// page.
func (v *views) Load() error {
	if err := v.Engine.Load(); err != nil {
		return err
	}
	var layouts, pages []string
	err := fs.WalkDir(v.fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".html") {
			return err
		}
		if strings.HasPrefix(path, layoutDir) {
			layouts = append(layouts, path)
		} else {
			pages = append(pages, strings.TrimSuffix(path, ".html"))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, path := range layouts {
		src, err := fs.ReadFile(v.fsys, path)
		if err != nil {
			return err
		}
		layout := strings.TrimSuffix(path, ".html")
		for _, page := range pages {
			text := embedAction.ReplaceAllLiteralString(string(src), fmt.Sprintf("{{template %q .}}", page))
			if _, err := v.Templates.New(layoutName(layout, page)).Parse(text); err != nil {
				return fmt.Errorf("parse %s with %s: %w", layout, page, err)
			}
		}
	}
	return nil
}

func layoutName(layout, page string) string { return layout + " with " + page }

// Render writes the template name, inside the first layout if one is given.
func (v *views) Render(out io.Writer, name string, binding any, layout ...string) error {
	if len(layout) > 0 && layout[0] != "" {
		name = layoutName(layout[0], name)
	}
	return v.Engine.Render(out, name, binding) // it names a template it lacks
}

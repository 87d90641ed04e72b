package handlers

import (
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"regexp"
	"strings"
)

// views renders the embedded templates for Fiber (fiber.Views). Each file
// is a template named by its path without ".html"; a layout shows the page
// where it says {{embed}}.
//
// It replaces Fiber's html engine, which rendered every page with a layout
// under one exclusive lock (it set the layout's embed function per
// request), so full pages were rendered one at a time whatever the cores.
// Here each (layout, template) pair is its own template, parsed once at
// start-up: the layout's source with {{embed}} turned into
// {{template "<page>" .}}. Rendering then shares nothing but read-only
// templates.
type views struct {
	set *template.Template
}

// layoutDir holds the layouts; every other template can be shown in one.
const layoutDir = "layouts/"

// embedAction is the layout's placeholder for the page.
var embedAction = regexp.MustCompile(`\{\{-?\s*embed\s*-?\}\}`)

// newViews parses every .html file of fsys with funcs, and each layout
// once per other template.
func newViews(fsys fs.FS, funcs template.FuncMap) (*views, error) {
	set := template.New("").Funcs(funcs).Funcs(template.FuncMap{
		// Only a layout's source says {{embed}}, and it is rewritten
		// below; the layout parsed as it is keeps the call.
		"embed": func() (template.HTML, error) { return "", errors.New("embed outside a layout") },
	})
	sources := map[string]string{}
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".html") {
			return err
		}
		b, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		name := strings.TrimSuffix(path, ".html")
		sources[name] = string(b)
		if _, err := set.New(name).Parse(string(b)); err != nil {
			return fmt.Errorf("parse %s: %w", path, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for layout, src := range sources {
		if !strings.HasPrefix(layout, layoutDir) {
			continue
		}
		for page := range sources {
			if strings.HasPrefix(page, layoutDir) {
				continue
			}
			text := embedAction.ReplaceAllLiteralString(src, fmt.Sprintf("{{template %q .}}", page))
			if _, err := set.New(layoutName(layout, page)).Parse(text); err != nil {
				return nil, fmt.Errorf("parse %s with %s: %w", layout, page, err)
			}
		}
	}
	return &views{set: set}, nil
}

func layoutName(layout, page string) string { return layout + " with " + page }

// Load is part of fiber.Views; the templates were parsed by newViews.
func (v *views) Load() error { return nil }

// Render writes the template name, inside the first layout if one is given.
func (v *views) Render(out io.Writer, name string, binding any, layout ...string) error {
	full := name
	if len(layout) > 0 && layout[0] != "" {
		full = layoutName(layout[0], name)
	}
	t := v.set.Lookup(full)
	if t == nil {
		return fmt.Errorf("render: no template %s", full)
	}
	return t.Execute(out, binding)
}

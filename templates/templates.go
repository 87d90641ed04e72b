// Package templates embeds Gatehouse's HTML templates: layouts/base.html,
// pages/<resource>_<view>.html and partials/<resource>_<fragment>.html.
// Each file is a template named by its path without ".html".
package templates

import "embed"

// FS holds every template file.
//
//go:embed layouts pages partials
var FS embed.FS

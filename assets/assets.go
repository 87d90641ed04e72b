// Package assets embeds the panel's CSS and JavaScript: our own files in
// static/ and the front-end libraries that `make assets` fetched from the
// npm registry into vendor/ (not committed).
package assets

import "embed"

// FS holds static/ and vendor/.
//
//go:embed static vendor
var FS embed.FS

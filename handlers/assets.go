package handlers

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// assetServer serves the embedded assets under /assets/<hash>/<name>. The
// hash covers the content, so answers can be cached for a year.
type assetServer struct {
	files map[string][]byte // name (static/app.js → app.js, vendor/htmx.min.js → htmx.min.js)
	hash  map[string]string
}

func newAssetServer(fsys fs.FS) (*assetServer, error) {
	a := &assetServer{files: map[string][]byte{}, hash: map[string]string{}}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") || strings.HasSuffix(p, ".go") {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		name := p[strings.IndexByte(p, '/')+1:]
		sum := sha256.Sum256(b)
		a.files[name] = b
		a.hash[name] = hex.EncodeToString(sum[:6])
		return nil
	})
	return a, err
}

// assetPath returns the cache-busting URL of an asset.
func (h *Handler) assetPath(name string) string {
	return "/assets/" + h.assets.hash[name] + "/" + name
}

func (h *Handler) serveAsset(c *fiber.Ctx) error {
	name := c.Params("*")
	b, ok := h.assets.files[name]
	if !ok {
		return fiber.ErrNotFound
	}
	if c.Params("hash") == h.assets.hash[name] {
		c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	} else {
		c.Set(fiber.HeaderCacheControl, "no-cache")
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	c.Set(fiber.HeaderContentType, ct)
	return c.Send(b)
}

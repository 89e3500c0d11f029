// Package web holds Pictor's dashboard, a TypeScript single-page app built
// by Vite (npm run build) into dist/app and embedded here, so the control
// plane binary serves it with no files beside it.
//
// dist/index.html is a committed placeholder that says the dashboard is not
// built yet: a fresh clone compiles before npm has run, and the build never
// touches a tracked file (it writes only dist/app, which git ignores).
package web

import (
	"embed"
	"io/fs"
)

// Dist is the dist directory: the placeholder index.html and, once built,
// the app under app/.
//
//go:embed all:dist
var Dist embed.FS

// Dashboard returns the files to serve at the site root: the built app
// (dist/app, its index.html at the top) when there is one, else the
// placeholder (dist). built reports which.
func Dashboard() (files fs.FS, built bool) {
	if app, err := fs.Sub(Dist, "dist/app"); err == nil {
		if _, err := fs.Stat(app, "index.html"); err == nil {
			return app, true
		}
	}
	placeholder, err := fs.Sub(Dist, "dist")
	if err != nil {
		panic("web: dist is not embedded: " + err.Error()) // cannot happen: the pattern above names it
	}
	return placeholder, false
}

// Package migrations holds Pictor's Postgres schema as ordered
// golang-migrate files (NNNNNN_name.up.sql / .down.sql). The files are
// embedded so the control plane binary can migrate a database by itself.
package migrations

import "embed"

// FS holds every migration file at its root.
//
//go:embed *.sql
var FS embed.FS

// Package internal is the root of code shared by the control plane and the
// edge: the transformation grammar (imgurl), URL signing, error kinds,
// logging and the Postgres/Redis test helpers. It has no cgo.
package internal

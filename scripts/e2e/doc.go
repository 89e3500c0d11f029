// Package e2e runs Pictor as real processes — Postgres, Redis, the control
// plane, an edge and an origin web server on 127.0.0.1 — and checks the
// path of an image through them, the way a customer sees it. The
// origin-fetch tests (origin_test.go) start standalone edges (--config, no
// control plane) against test origins that misbehave, and read each
// refusal's reason from the edge's JSON log.
//
// The binaries come from PICTOR_E2E_BIN_DIR (scripts/test.sh builds them
// there); without it the test builds them itself. Postgres comes from
// services/internal/pgtest (PICTOR_TEST_PG_URL or a private cluster), Redis
// from services/internal/redistest.
//
// The module lives in scripts/e2e but its path is pictor/services/e2e: Go
// lets only packages under pictor/services import pictor/services/internal/…
// (the internal-directory rule), and the test helpers live there.
package e2e

// Command benchseed fills an empty, migrated Pictor database with a
// SaaS-sized configuration for make bench-fleet: N accounts, each with 2
// API keys (sealed under the master key, as the control plane stores
// them), 2 origins, 3 URL-endpoints (one with a custom domain) and 5 named
// transformations, written with COPY in one transaction and announced as
// one config version. It prints "account_id private_key" per account.
//
//	benchseed -accounts 10000 > keys.txt   (PICTOR_DATABASE_URL, PICTOR_MASTER_KEY)
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5"

	"pictor/services/controlplane/internal/auth"
	"pictor/services/controlplane/internal/tenant"
)

func main() {
	n := flag.Int("accounts", 10_000, "accounts to create")
	flag.Parse()
	if err := run(context.Background(), *n); err != nil {
		fmt.Fprintln(os.Stderr, "benchseed:", err)
		os.Exit(1)
	}
}

// rows are what seed writes, per table.
type rows struct {
	accounts, keys, origins, endpoints, endpointOrigins, domains, transformations [][]any
}

func run(ctx context.Context, n int) error {
	master, err := auth.ParseMasterKey(os.Getenv("PICTOR_MASTER_KEY"))
	if err != nil {
		return fmt.Errorf("PICTOR_MASTER_KEY: %w", err)
	}
	keyring, err := auth.NewKeyring(master)
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, os.Getenv("PICTOR_DATABASE_URL"))
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)

	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	var r rows
	now := time.Now()
	for i := range n {
		id := fmt.Sprintf("tenant-%05d", i)
		r.accounts = append(r.accounts, []any{id, "Tenant " + id, id + "@bench.example", now})
		for k := range 2 {
			key := keyring.NewKey()
			r.keys = append(r.keys, []any{key.Stored.ID, id, fmt.Sprintf("key %d", k), key.Stored.DisplayPrefix, key.Stored.Digest, key.Stored.Ciphertext, now.Add(time.Duration(k) * time.Millisecond)})
			if k == 0 {
				fmt.Fprintln(out, id, key.Secret)
			}
		}
		o1, o2 := tenant.NewID(), tenant.NewID()
		r.origins = append(r.origins,
			[]any{o1, id, "WEB_FOLDER", "web", "https://img." + id + ".example.com/", now},
			[]any{o2, id, "WEB_FOLDER", "backup", "https://backup." + id + ".example.com/", now.Add(time.Millisecond)})
		for j, e := range []struct {
			prefix  string
			origins []string
		}{{"", []string{o1, o2}}, {"products", []string{o1}}, {"media", []string{o2}}} {
			eid := tenant.NewID()
			r.endpoints = append(r.endpoints, []any{eid, id, "endpoint " + e.prefix, e.prefix, now.Add(time.Duration(j) * time.Millisecond)})
			for pos, o := range e.origins {
				r.endpointOrigins = append(r.endpointOrigins, []any{id, eid, o, pos})
			}
			if e.prefix == "media" {
				r.domains = append(r.domains, []any{"cdn." + id + ".example.com", id, eid})
			}
		}
		for j := range 5 {
			r.transformations = append(r.transformations, []any{tenant.NewID(), id, fmt.Sprintf("t%d", j), fmt.Sprintf("w-%d,h-200", 100*(j+1))})
		}
	}
	return write(ctx, conn, &r)
}

func write(ctx context.Context, conn *pgx.Conn, r *rows) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	for _, c := range []struct {
		table string
		cols  []string
		rows  [][]any
	}{
		{"accounts", []string{"id", "name", "owner_email", "created_at"}, r.accounts},
		{"api_keys", []string{"id", "account_id", "name", "display_prefix", "digest", "ciphertext", "created_at"}, r.keys},
		{"origins", []string{"id", "account_id", "type", "name", "base_url", "created_at"}, r.origins},
		{"url_endpoints", []string{"id", "account_id", "description", "url_prefix", "created_at"}, r.endpoints},
		{"url_endpoint_origins", []string{"account_id", "endpoint_id", "origin_id", "position"}, r.endpointOrigins},
		{"custom_domains", []string{"domain", "account_id", "endpoint_id"}, r.domains},
		{"named_transformations", []string{"id", "account_id", "name", "transformation"}, r.transformations},
	} {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{c.table}, c.cols, pgx.CopyFromRows(c.rows)); err != nil {
			return fmt.Errorf("copy %s: %w", c.table, err)
		}
	}
	if _, err := tx.Exec(ctx, `SELECT bump_config_version()`); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

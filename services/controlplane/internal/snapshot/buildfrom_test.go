package snapshot

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"

	"pictor/services/controlplane/internal/postgres"
	"pictor/services/controlplane/internal/tenant"
	"pictor/services/internal/errkind"
	"pictor/services/internal/pgtest"
)

// TestBuildFrom: after every kind of config write, made through the store
// or straight in SQL (as an operator's fix would be), the snapshot built
// from the previous one reading only what changed equals the snapshot
// built whole; and it shares every account the write did not touch.
func TestBuildFrom(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	dbURL := pgtest.NewDatabase(t)
	db, err := postgres.Open(ctx, dbURL, log)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	super, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer super.Close()
	kr := keyring(t)
	b := NewBuilder(db, kr, log)
	admin := tenant.Caller{Actor: "admin"}
	type acct struct {
		c       tenant.Caller
		origins []tenant.Origin
		alive   bool
	}
	var accounts []*acct
	newAccount := func(i int) {
		id := fmt.Sprintf("acct-%02d", i)
		if _, _, err := db.CreateAccount(ctx, admin, tenant.NewAccount{ID: id, Name: id, OwnerEmail: id + "@x.example", Key: kr.NewKey().Stored}); err != nil {
			t.Fatal(err)
		}
		accounts = append(accounts, &acct{c: tenant.Caller{AccountID: id, Actor: "test"}, alive: true})
	}
	for i := range 6 {
		newAccount(i)
	}
	r := rand.New(rand.NewPCG(7, 11))
	ops := []struct {
		name string
		do   func(a *acct) error
	}{
		{"create origin", func(a *acct) error {
			o, err := db.CreateOrigin(ctx, a.c, tenant.Origin{Type: tenant.OriginWebFolder, Name: "o", BaseURL: fmt.Sprintf("https://o%d.example.com", r.IntN(1000))})
			a.origins = append(a.origins, o)
			return err
		}},
		{"update origin", func(a *acct) error {
			if len(a.origins) == 0 {
				return nil
			}
			o := a.origins[r.IntN(len(a.origins))]
			o.Name = fmt.Sprintf("renamed-%d", r.IntN(1000))
			_, err := db.UpdateOrigin(ctx, a.c, o)
			return err
		}},
		{"create endpoint", func(a *acct) error {
			var ids []string
			for _, o := range a.origins {
				ids = append(ids, o.ID)
			}
			_, err := db.CreateEndpoint(ctx, a.c, tenant.URLEndpoint{Description: "e", URLPrefix: fmt.Sprintf("p%d", r.IntN(100000)), OriginIDs: ids,
				CustomDomains: []string{fmt.Sprintf("d%d.%s.example.com", r.IntN(100000), a.c.AccountID)}})
			return err
		}},
		{"create key", func(a *acct) error {
			_, err := db.CreateKey(ctx, a.c, "k", kr.NewKey().Stored)
			return err
		}},
		{"named transformation", func(a *acct) error {
			_, err := db.CreateNamedTransformation(ctx, a.c, tenant.NamedTransformation{Name: fmt.Sprintf("n%d", r.IntN(100000)), Transformation: "w-100", Enabled: true})
			return err
		}},
		{"suspend or resume", func(a *acct) error {
			status := []string{"active", "suspended"}[r.IntN(2)]
			_, err := db.UpdateAccount(ctx, admin, a.c.AccountID, tenant.AccountPatch{Status: &status})
			return err
		}},
		{"write straight in SQL", func(a *acct) error {
			tx, err := super.Begin(ctx)
			if err != nil {
				return err
			}
			defer tx.Rollback(ctx)
			if _, err := tx.Exec(ctx, `UPDATE accounts SET default_quality = $2 WHERE id = $1`, a.c.AccountID, 50+r.IntN(50)); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `SELECT bump_config_version()`); err != nil {
				return err
			}
			return tx.Commit(ctx)
		}},
		{"delete account", func(a *acct) error {
			a.alive = false
			return db.DeleteAccount(ctx, admin, a.c.AccountID)
		}},
	}
	prev, err := b.Build(ctx)
	if err != nil {
		t.Fatal(err)
	}
	first := prev
	for step := range 80 {
		var live []*acct
		for _, a := range accounts {
			if a.alive {
				live = append(live, a)
			}
		}
		if len(live) < 3 {
			newAccount(len(accounts))
			continue
		}
		op := ops[r.IntN(len(ops))]
		if err := op.do(live[r.IntN(len(live))]); err != nil && errkind.KindOf(err) != errkind.Conflict && errkind.KindOf(err) != errkind.Forbidden {
			t.Fatalf("step %d, %s: %v", step, op.name, err)
		}
		got, err := b.BuildFrom(ctx, prev)
		if err != nil {
			t.Fatalf("step %d, %s: BuildFrom: %v", step, op.name, err)
		}
		want, err := b.Build(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got.CreatedUnixMs = want.CreatedUnixMs
		if !proto.Equal(got, want) {
			t.Fatalf("step %d, %s: built from v%d:\n%v\nbuilt whole:\n%v", step, op.name, prev.Version, got, want)
		}
		shared := 0
		for _, a := range got.Accounts {
			for _, p := range prev.Accounts {
				if a == p {
					shared++
				}
			}
		}
		if len(got.Accounts) > 2 && shared < len(got.Accounts)-2 {
			t.Fatalf("step %d, %s: only %d of %d accounts shared with the previous snapshot", step, op.name, shared, len(got.Accounts))
		}
		prev = got
	}
	// From further back: every change since, at once.
	got, err := b.BuildFrom(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := b.Build(ctx)
	got.CreatedUnixMs = want.CreatedUnixMs
	if !proto.Equal(got, want) {
		t.Fatal("built from the first snapshot, the result differs from the whole build")
	}
}

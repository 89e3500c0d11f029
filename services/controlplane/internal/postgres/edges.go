package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"pictor/services/controlplane/internal/tenant"
	"pictor/services/internal/errkind"
)

// The edge_nodes.replica_id column holds tenant.EdgeNode.Session: the
// control-plane replica and stream that last spoke for the node. Updates
// from a stream are conditional on it, so a stale stream cannot overwrite
// what a newer one recorded.

// maxNackDetail bounds the stored NACK reason; edges send free text.
const maxNackDetail = 2048

var errNoEdge = errkind.New(errkind.NotFound, "edge_not_found", "no such edge node")

// EdgeConnected records that an edge opened a config stream.
func (db *DB) EdgeConnected(ctx context.Context, n tenant.EdgeNode) error {
	return db.systemExec(ctx, "record edge connect", `
		INSERT INTO edge_nodes (node_id, edge_group, applied_version, connected, replica_id, last_seen)
		VALUES ($1, $2, $3, true, $4, now())
		ON CONFLICT (node_id) DO UPDATE SET
			edge_group = EXCLUDED.edge_group,
			applied_version = EXCLUDED.applied_version,
			connected = true,
			replica_id = EXCLUDED.replica_id,
			last_seen = now()`,
		n.NodeID, n.EdgeGroup, n.AppliedVersion, n.Session)
}

// EdgeAcked records an edge's ACK or NACK of a snapshot.
func (db *DB) EdgeAcked(ctx context.Context, a tenant.EdgeAck) error {
	if a.ErrorDetail == "" {
		rejected := a.Rejected
		if len(rejected) > maxRejected {
			rejected = rejected[:maxRejected]
		}
		for i := range rejected {
			rejected[i].ErrorDetail = truncate(rejected[i].ErrorDetail, maxNackDetail/4)
		}
		if rejected == nil {
			rejected = []tenant.Rejection{}
		}
		return db.systemExec(ctx, "record edge ack", `
			UPDATE edge_nodes SET applied_version = $3, last_ack_version = $4, rejected = $5, last_seen = now()
			WHERE node_id = $1 AND replica_id = $2`,
			a.NodeID, a.Session, a.AppliedVersion, a.Version, rejected)
	}
	detail := a.ErrorDetail
	if len(detail) > maxNackDetail {
		detail = detail[:maxNackDetail]
	}
	return db.systemExec(ctx, "record edge nack", `
		UPDATE edge_nodes SET applied_version = $3, last_nack_version = $4, last_nack_detail = $5, last_seen = now()
		WHERE node_id = $1 AND replica_id = $2`,
		a.NodeID, a.Session, a.AppliedVersion, a.Version, detail)
}

// EdgeSeen refreshes an edge's last_seen, so a node whose control-plane
// replica died without marking it disconnected shows as stale.
func (db *DB) EdgeSeen(ctx context.Context, nodeID, session string) error {
	return db.systemExec(ctx, "record edge seen", `UPDATE edge_nodes SET last_seen = now() WHERE node_id = $1 AND replica_id = $2`, nodeID, session)
}

// EdgeDisconnected records that a config stream ended.
func (db *DB) EdgeDisconnected(ctx context.Context, nodeID, session string) error {
	return db.systemExec(ctx, "record edge disconnect", `
		UPDATE edge_nodes SET connected = false, last_seen = now()
		WHERE node_id = $1 AND replica_id = $2`, nodeID, session)
}

const edgeColumns = `node_id, edge_group, applied_version, last_ack_version, last_nack_version,
	last_nack_detail, rejected, connected, replica_id, last_seen`

func scanEdge(row pgx.Row) (tenant.EdgeNode, error) {
	var n tenant.EdgeNode
	err := row.Scan(&n.NodeID, &n.EdgeGroup, &n.AppliedVersion, &n.LastAckVersion, &n.LastNackVersion,
		&n.LastNackDetail, &n.Rejected, &n.Connected, &n.Session, &n.LastSeen)
	return n, err
}

// maxRejected bounds the rejections recorded per edge: enough to name a
// bad tenant or a few, not a store for a snapshot gone wholly wrong.
const maxRejected = 100

func truncate(s string, n int) string {
	if len(s) > n {
		return strings.ToValidUTF8(s[:n], "")
	}
	return s
}

// FindEdge returns what is recorded about an edge node.
func (db *DB) FindEdge(ctx context.Context, nodeID string) (tenant.EdgeNode, error) {
	var n tenant.EdgeNode
	err := db.systemRead(ctx, "find edge", func(tx pgx.Tx) error {
		var err error
		n, err = scanEdge(tx.QueryRow(ctx, `SELECT `+edgeColumns+` FROM edge_nodes WHERE node_id = $1`, nodeID))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("find edge %s: %w", nodeID, errNoEdge)
		}
		return err
	})
	return n, err
}

// ListEdges implements tenant.EdgeService: every edge ever seen, by id.
func (db *DB) ListEdges(ctx context.Context) ([]tenant.EdgeNode, error) {
	out := []tenant.EdgeNode{}
	err := db.systemRead(ctx, "list edges", func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT `+edgeColumns+` FROM edge_nodes ORDER BY node_id`)
		list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tenant.EdgeNode, error) { return scanEdge(r) })
		out = append(out, list...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// systemExec runs one statement as the system role.
func (db *DB) systemExec(ctx context.Context, op, sql string, args ...any) error {
	return db.systemWrite(ctx, op, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, sql, args...)
		return err
	})
}

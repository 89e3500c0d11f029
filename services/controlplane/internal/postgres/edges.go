package postgres

import (
	"context"
	"errors"
	"fmt"

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
	_, err := db.pool.Exec(ctx, `
		INSERT INTO edge_nodes (node_id, edge_group, applied_version, connected, replica_id, last_seen)
		VALUES ($1, $2, $3, true, $4, now())
		ON CONFLICT (node_id) DO UPDATE SET
			edge_group = EXCLUDED.edge_group,
			applied_version = EXCLUDED.applied_version,
			connected = true,
			replica_id = EXCLUDED.replica_id,
			last_seen = now()`,
		n.NodeID, n.EdgeGroup, n.AppliedVersion, n.Session)
	if err != nil {
		return dbError("record edge connect", err)
	}
	return nil
}

// EdgeAcked records an edge's ACK or NACK of a snapshot.
func (db *DB) EdgeAcked(ctx context.Context, a tenant.EdgeAck) error {
	var err error
	if a.ErrorDetail == "" {
		_, err = db.pool.Exec(ctx, `
			UPDATE edge_nodes SET applied_version = $3, last_ack_version = $4, last_seen = now()
			WHERE node_id = $1 AND replica_id = $2`,
			a.NodeID, a.Session, a.AppliedVersion, a.Version)
	} else {
		detail := a.ErrorDetail
		if len(detail) > maxNackDetail {
			detail = detail[:maxNackDetail]
		}
		_, err = db.pool.Exec(ctx, `
			UPDATE edge_nodes SET applied_version = $3, last_nack_version = $4, last_nack_detail = $5, last_seen = now()
			WHERE node_id = $1 AND replica_id = $2`,
			a.NodeID, a.Session, a.AppliedVersion, a.Version, detail)
	}
	if err != nil {
		return dbError("record edge ack", err)
	}
	return nil
}

// EdgeSeen refreshes an edge's last_seen, so a node whose control-plane
// replica died without marking it disconnected shows as stale.
func (db *DB) EdgeSeen(ctx context.Context, nodeID, session string) error {
	_, err := db.pool.Exec(ctx, `UPDATE edge_nodes SET last_seen = now() WHERE node_id = $1 AND replica_id = $2`, nodeID, session)
	if err != nil {
		return dbError("record edge seen", err)
	}
	return nil
}

// EdgeDisconnected records that a config stream ended.
func (db *DB) EdgeDisconnected(ctx context.Context, nodeID, session string) error {
	_, err := db.pool.Exec(ctx, `
		UPDATE edge_nodes SET connected = false, last_seen = now()
		WHERE node_id = $1 AND replica_id = $2`, nodeID, session)
	if err != nil {
		return dbError("record edge disconnect", err)
	}
	return nil
}

// FindEdge returns what is recorded about an edge node.
func (db *DB) FindEdge(ctx context.Context, nodeID string) (tenant.EdgeNode, error) {
	var n tenant.EdgeNode
	err := db.pool.QueryRow(ctx, `
		SELECT node_id, edge_group, applied_version, last_ack_version, last_nack_version,
			last_nack_detail, connected, replica_id, last_seen
		FROM edge_nodes WHERE node_id = $1`, nodeID,
	).Scan(&n.NodeID, &n.EdgeGroup, &n.AppliedVersion, &n.LastAckVersion, &n.LastNackVersion,
		&n.LastNackDetail, &n.Connected, &n.Session, &n.LastSeen)
	if errors.Is(err, pgx.ErrNoRows) {
		return n, fmt.Errorf("find edge %s: %w", nodeID, errNoEdge)
	}
	if err != nil {
		return n, dbError("find edge", err)
	}
	return n, nil
}

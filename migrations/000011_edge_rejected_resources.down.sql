ALTER TABLE edge_nodes DROP COLUMN rejected;

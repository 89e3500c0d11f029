// Package proto holds Pictor's protobuf contracts between the control plane
// and the edges. The generated Go code lives next to each .proto file and is
// committed; `make gen` regenerates it and `make test` fails on drift.
package proto

// Package standalone loads an edge configuration from a local file, for
// single-node users who run an edge without a control plane. The file has
// the schema of a config snapshot (the protobuf JSON mapping, written as
// YAML or JSON), so anything a control plane can push can also be written
// by hand, and it is validated by the same routing.Build.
package standalone

import (
	"fmt"
	"os"

	"github.com/goccy/go-yaml"
	"google.golang.org/protobuf/encoding/protojson"

	configv1 "pictor/proto/pictor/config/v1"
)

// MaxFileBytes bounds the config file; a snapshot of thousands of accounts
// fits easily.
const MaxFileBytes = 64 << 20

// Load reads a YAML or JSON snapshot file. Unknown fields are errors, so a
// typo in a field name does not silently drop a setting.
func Load(path string) (*configv1.Snapshot, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read config file: %w", err)
	}
	if info.Size() > MaxFileBytes {
		return nil, fmt.Errorf("config file %s is larger than %d MB", path, MaxFileBytes>>20)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config file: %w", err)
	}
	return Parse(raw)
}

// Parse decodes a YAML or JSON snapshot document.
func Parse(raw []byte) (*configv1.Snapshot, error) {
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("config file is not valid YAML: %w", err)
	}
	var snap configv1.Snapshot
	if err := (protojson.UnmarshalOptions{}).Unmarshal(js, &snap); err != nil {
		return nil, fmt.Errorf("config file does not match the snapshot schema: %w", err)
	}
	if snap.Version == 0 {
		// A hand-written file has no version; any non-zero one marks it loaded.
		snap.Version = 1
	}
	return &snap, nil
}

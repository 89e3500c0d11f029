package main

import (
	"strings"
	"testing"
	"time"
)

func TestLoadConfig(t *testing.T) {
	cases := []struct {
		name   string
		env    map[string]string
		file   string
		errHas []string
		check  func(t *testing.T, c config)
	}{
		{name: "defaults", env: map[string]string{"PICTOR_EDGE_TOKEN": "t"}, check: func(t *testing.T, c config) {
			if c.Addr != ":8081" || c.ControlPlaneAddr != "127.0.0.1:8090" || c.FetchTimeout != 15*time.Second || c.MaxSourcePixels != 100_000_000 {
				t.Fatalf("defaults: %+v", c)
			}
		}},
		{name: "standalone needs no token", file: "pictor.yaml", check: func(t *testing.T, c config) {
			if c.ConfigFile != "pictor.yaml" {
				t.Fatalf("config file = %q", c.ConfigFile)
			}
		}},
		{name: "original admission", env: map[string]string{"PICTOR_EDGE_TOKEN": "t"}, check: func(t *testing.T, c config) {
			if c.OriginalAdmission != time.Hour {
				t.Fatalf("default admission window %v, want 1h", c.OriginalAdmission)
			}
		}},
		{name: "original admission off", env: map[string]string{"PICTOR_EDGE_TOKEN": "t", "PICTOR_ORIGINAL_ADMISSION": "0"}, check: func(t *testing.T, c config) {
			if c.OriginalAdmission != 0 {
				t.Fatalf("admission window %v, want 0 (every original cached)", c.OriginalAdmission)
			}
		}},
		{name: "bad admission window", env: map[string]string{"PICTOR_EDGE_TOKEN": "t", "PICTOR_ORIGINAL_ADMISSION": "-1h"},
			errHas: []string{"PICTOR_ORIGINAL_ADMISSION"}},
		{name: "token required", env: map[string]string{}, errHas: []string{"PICTOR_EDGE_TOKEN"}},
		{name: "every problem reported", env: map[string]string{
			"PICTOR_EDGE_TOKEN": "t", "PICTOR_ORIGIN_FETCH_TIMEOUT": "soon", "PICTOR_MAX_SOURCE_PIXELS": "-1",
			"PICTOR_ALLOW_PRIVATE_ORIGINS": "maybe", "PICTOR_EDGE_ADDR": "8081", "PICTOR_LOG_FORMAT": "xml",
		}, errHas: []string{"PICTOR_ORIGIN_FETCH_TIMEOUT", "PICTOR_MAX_SOURCE_PIXELS", "PICTOR_ALLOW_PRIVATE_ORIGINS", "PICTOR_EDGE_ADDR", "PICTOR_LOG_FORMAT"}},
		{name: "secrets masked", env: map[string]string{"PICTOR_EDGE_TOKEN": "s3cret"}, check: func(t *testing.T, c config) {
			if c.masked().EdgeToken == "s3cret" || c.EdgeToken != "s3cret" {
				t.Fatal("token not masked")
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadConfig(func(k string) string { return tc.env[k] }, tc.file)
			if len(tc.errHas) > 0 {
				if err == nil {
					t.Fatal("no error")
				}
				for _, s := range tc.errHas {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not name %s", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

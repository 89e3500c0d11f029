package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sdkDir holds the Node package that drives Pictor with ImageKit's SDK.
var sdkDir = filepath.Join("..", "..", "sdktest")

// TestImageKitNodeSDK runs ImageKit's official Node SDK (@imagekit/nodejs
// v7, pinned in sdktest/package-lock.json) against the real `serve`, with
// baseURL pointed at Pictor and a Pictor private key: origins,
// URL-endpoints, named transformations, purge and usage, each result
// checked by sdktest/sdk.mjs. Node and npm are prerequisites of the
// project; their absence fails the test rather than skipping it.
func TestImageKitNodeSDK(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not on PATH: install Node.js 20 or later (the ImageKit SDK compatibility test needs it)")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Fatal("npm is not on PATH: install Node.js 20 or later with npm (the ImageKit SDK compatibility test needs it)")
	}
	if _, err := os.Stat(filepath.Join(sdkDir, "node_modules", "@imagekit", "nodejs", "package.json")); err != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
		cmd.Dir = sdkDir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in %s: %v\n%s", sdkDir, err, out)
		}
	}

	s := startServe(t, nil)
	apiURL := "http://" + s.http
	req, _ := http.NewRequest("POST", apiURL+"/admin/v1/accounts",
		strings.NewReader(`{"id":"sdk-test","name":"SDK test","ownerEmail":"sdk@example.com"}`))
	req.Header.Set("Authorization", "Bearer "+s.env[envAdminToken])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var created struct{ PrivateKey string }
	err = json.NewDecoder(res.Body).Decode(&created)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusCreated || created.PrivateKey == "" {
		t.Fatalf("create account: %d %v", res.StatusCode, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "sdk.mjs")
	cmd.Dir = sdkDir
	cmd.Env = append(os.Environ(),
		"PICTOR_API_URL="+apiURL,
		"PICTOR_PRIVATE_KEY="+created.PrivateKey,
		"PICTOR_ACCOUNT_ID=sdk-test",
		"PICTOR_EDGE_URL=http://127.0.0.1:8081",
		// The SDK reads these too; make sure the environment cannot steer it.
		"IMAGE_KIT_BASE_URL=", "IMAGEKIT_PRIVATE_KEY=", "IMAGE_KIT_CUSTOM_HEADERS=",
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("node sdk.mjs: %v\n%s\ncontrol plane log:\n%s", err, out.String(), s.stderr.String())
	}
	t.Log(strings.TrimSpace(out.String()))
}

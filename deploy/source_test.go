package deploy

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// binarySpec is what the validator is told about each program the images
// run; everything else about it is read from its Go source.
type binarySpec struct {
	name      string
	cmdDir    string // the main package: scanned for PICTOR_* settings, defaults, required ones
	moduleDir string // scanned for the HTTP paths the program serves
	listeners []listenerSpec
	// dirEnv are settings naming a directory the program writes to; with a
	// read-only root file system each must be on a volume.
	dirEnv []string
	// scratchDirs are directories written without a setting (libvips' temp
	// files): they need a writable mount too.
	scratchDirs []string
}

// listenerSpec is one address a program listens on, from a setting or a
// command-line flag, for the commands given (nil: every command).
type listenerSpec struct {
	name     string // "http" (serves the health paths) or "grpc"
	env      string
	flag     string
	commands []string
}

var binarySpecs = []binarySpec{
	{
		name:      "controlplane",
		cmdDir:    "services/controlplane/cmd/controlplane",
		moduleDir: "services/controlplane",
		listeners: []listenerSpec{
			{name: "http", env: "PICTOR_HTTP_ADDR", commands: []string{"serve"}},
			{name: "grpc", env: "PICTOR_GRPC_ADDR", commands: []string{"serve"}},
		},
	},
	{
		name:        "edge",
		cmdDir:      "services/edge/cmd/edge",
		moduleDir:   "services/edge",
		listeners:   []listenerSpec{{name: "http", env: "PICTOR_EDGE_ADDR"}},
		dirEnv:      []string{"PICTOR_EDGE_DATA_DIR"},
		scratchDirs: []string{"/tmp"},
	},
	{
		name:      "demo-origin",
		cmdDir:    "scripts/demo-origin",
		moduleDir: "scripts/demo-origin",
		listeners: []listenerSpec{{name: "http", flag: "addr"}},
	},
}

// binary is a program's facts as read from its source.
type binary struct {
	binarySpec
	env          map[string]bool   // PICTOR_* settings it reads
	defaults     map[string]string // setting -> default, for string-valued settings
	flagDefaults map[string]string // flag -> default
	required     map[string]string // setting -> "" (always required) or the one command requiring it
	served       map[string]bool   // path-like string literals in the module's code
}

// requiredFor lists the settings a run with these arguments needs.
func (b *binary) requiredFor(args []string) []string {
	var out []string
	for _, name := range sortedKeys(b.required) {
		if cmd := b.required[name]; cmd == "" || (len(args) > 0 && args[0] == cmd) {
			out = append(out, name)
		}
	}
	return out
}

// listen resolves the program's listen addresses (listener name -> addr)
// for a run with these arguments and environment.
func (b *binary) listen(args []string, env map[string]string) (map[string]string, problems) {
	var ps problems
	out := map[string]string{}
	for _, l := range b.listeners {
		if l.commands != nil && (len(args) == 0 || !contains(l.commands, args[0])) {
			continue
		}
		var addr string
		var ok bool
		switch {
		case l.env != "":
			if addr, ok = env[l.env]; !ok {
				addr, ok = b.defaults[l.env]
			}
		case l.flag != "":
			if addr, ok = lookupFlag(args, l.flag); !ok {
				addr, ok = b.flagDefaults[l.flag]
			}
		}
		if !ok {
			ps.addf("%s: cannot tell its %s listen address (no setting and no default found in its source)", b.name, l.name)
			continue
		}
		out[l.name] = addr
	}
	return out, ps
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

var (
	binariesOnce sync.Once
	binariesMap  map[string]*binary
	binariesErr  error
)

// binaries reads every program's facts once per test run.
func binaries(t testing.TB) map[string]*binary {
	t.Helper()
	root := repoRoot(t)
	binariesOnce.Do(func() {
		binariesMap = map[string]*binary{}
		for _, spec := range binarySpecs {
			b, err := loadBinary(root, spec)
			if err != nil {
				binariesErr = err
				return
			}
			binariesMap[spec.name] = b
		}
	})
	if binariesErr != nil {
		t.Fatal(binariesErr)
	}
	return binariesMap
}

// loadBinary reads a program's facts from its source and checks that what
// the spec names (listen settings, flags) is there, so a rename in the
// services fails here instead of silently passing.
func loadBinary(root string, spec binarySpec) (*binary, error) {
	files, err := parseGoFiles(filepath.Join(root, spec.cmdDir), false)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no Go files in %s", spec.name, spec.cmdDir)
	}
	b := extractSettings(files)
	b.binarySpec = spec
	if b.served, err = servedPaths(filepath.Join(root, spec.moduleDir)); err != nil {
		return nil, err
	}
	for _, l := range spec.listeners {
		if l.env != "" && !b.env[l.env] {
			return nil, fmt.Errorf("%s: %s is not read in %s any more; update binarySpecs", spec.name, l.env, spec.cmdDir)
		}
		if l.flag != "" {
			if _, ok := b.flagDefaults[l.flag]; !ok {
				return nil, fmt.Errorf("%s: no -%s flag in %s any more; update binarySpecs", spec.name, l.flag, spec.cmdDir)
			}
		}
	}
	for _, e := range spec.dirEnv {
		if !b.env[e] || b.defaults[e] == "" {
			return nil, fmt.Errorf("%s: %s (and its default) not found in %s; update binarySpecs", spec.name, e, spec.cmdDir)
		}
	}
	return b, nil
}

// parseGoFiles parses the non-test Go files of dir (and below, if deep).
func parseGoFiles(dir string, deep bool) ([]*ast.File, error) {
	fset := token.NewFileSet()
	var files []*ast.File
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != dir && (!deep || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(fset, p, src, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files = append(files, f)
		return nil
	})
	return files, err
}

// usageRequired matches a line of a usage text such as
// "  PICTOR_ADMIN_TOKEN   bearer token ... (required by serve)".
var usageRequired = regexp.MustCompile(`(?m)^\s*(PICTOR_[A-Z0-9_]+)\s.*\(required(?: by (\w+))?\)`)

// leadingEnv matches a message that starts with a setting's name.
var leadingEnv = regexp.MustCompile(`^PICTOR_[A-Z0-9_]+`)

// extractSettings reads, from a main package's syntax:
//   - settings: every string constant or literal that is exactly PICTOR_X;
//   - defaults: calls f(NAME, DEFAULT) or f(getenv(NAME), DEFAULT) where
//     NAME is a setting and DEFAULT a string (literal or constant), the
//     shape of both services' config loaders;
//   - flag defaults: x.String("name", "default", "usage");
//   - required settings: errors.New/fmt.Errorf messages "PICTOR_X is
//     required" or "%s is required" with a setting as the argument, and
//     usage-text lines ending in "(required)" or "(required by CMD)".
func extractSettings(files []*ast.File) *binary {
	b := &binary{
		env:          map[string]bool{},
		defaults:     map[string]string{},
		flagDefaults: map[string]string{},
		required:     map[string]string{},
	}
	consts := map[string]string{}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			if d, ok := n.(*ast.GenDecl); ok && d.Tok == token.CONST {
				for _, s := range d.Specs {
					vs := s.(*ast.ValueSpec)
					for i, name := range vs.Names {
						if i < len(vs.Values) {
							if v, ok := stringLit(vs.Values[i]); ok {
								consts[name.Name] = v
							}
						}
					}
				}
			}
			return true
		})
	}
	resolve := func(e ast.Expr) (string, bool) {
		if v, ok := stringLit(e); ok {
			return v, true
		}
		if id, ok := e.(*ast.Ident); ok {
			v, ok := consts[id.Name]
			return v, ok
		}
		return "", false
	}
	// settingArg resolves NAME or getenv(NAME).
	settingArg := func(e ast.Expr) string {
		if c, ok := e.(*ast.CallExpr); ok && len(c.Args) == 1 {
			e = c.Args[0]
		}
		if v, ok := resolve(e); ok && pictorEnvName.MatchString(v) {
			return v
		}
		return ""
	}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BasicLit:
				v, ok := stringLit(n)
				if !ok {
					return true
				}
				if pictorEnvName.MatchString(v) {
					b.env[v] = true
				}
				for _, m := range usageRequired.FindAllStringSubmatch(v, -1) {
					b.required[m[1]] = m[2]
				}
			case *ast.CallExpr:
				if len(n.Args) >= 2 {
					if name := settingArg(n.Args[0]); name != "" {
						if def, ok := resolve(n.Args[1]); ok {
							b.defaults[name] = def
						}
					}
				}
				sel, isSel := n.Fun.(*ast.SelectorExpr)
				if isSel && sel.Sel.Name == "String" && len(n.Args) == 3 {
					name, ok1 := resolve(n.Args[0])
					def, ok2 := resolve(n.Args[1])
					if ok1 && ok2 {
						b.flagDefaults[name] = def
					}
				}
				if isSel && (sel.Sel.Name == "New" || sel.Sel.Name == "Errorf") && len(n.Args) >= 1 {
					format, ok := resolve(n.Args[0])
					if !ok || !strings.Contains(format, " is required") {
						return true
					}
					if m := leadingEnv.FindString(format); m != "" {
						b.required[m] = ""
					} else if strings.HasPrefix(format, "%s is required") && len(n.Args) >= 2 {
						if name := settingArg(n.Args[1]); name != "" {
							b.required[name] = ""
						}
					}
				}
			}
			return true
		})
	}
	return b
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	v, err := strconv.Unquote(lit.Value)
	return v, err == nil
}

// servedPaths collects the path-like string literals ("/healthz") of a
// module's non-test code: a probe path must be one of them.
func servedPaths(dir string) (map[string]bool, error) {
	files, err := parseGoFiles(dir, true)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			if v, ok := stringLit(asExpr(n)); ok && strings.HasPrefix(v, "/") && !strings.ContainsAny(v, " \t\n") {
				out[v] = true
			}
			return true
		})
	}
	return out, nil
}

func asExpr(n ast.Node) ast.Expr {
	if e, ok := n.(ast.Expr); ok {
		return e
	}
	return nil
}

// devPorts reads the dev stack's default ports (PICTOR_DEV_*_PORT) from
// scripts/dev.sh: the compose file publishes the same ones.
func devPorts(t testing.TB) map[string]int {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(repoRoot(t), "scripts/dev.sh"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, m := range regexp.MustCompile(`\$\{(PICTOR_DEV_[A-Z0-9_]+_PORT):-(\d+)\}`).FindAllStringSubmatch(string(src), -1) {
		n, _ := strconv.Atoi(m[2])
		out[m[1]] = n
	}
	if len(out) == 0 {
		t.Fatal("no PICTOR_DEV_*_PORT defaults found in scripts/dev.sh")
	}
	return out
}

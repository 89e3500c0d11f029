package deploy

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"golang.org/x/mod/modfile"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, COPY, ...
	args string
	line int
}

type stage struct {
	index  int
	image  string
	name   string // AS name, lower case; "" if none
	instrs []instruction
}

type dockerfile struct {
	path   string
	stages []*stage
}

func (d *dockerfile) final() *stage { return d.stages[len(d.stages)-1] }

// parseDockerfile is a line parser for the Dockerfile syntax the deploy
// files use: comments, parser directives, backslash continuations (with
// comment lines inside them), exec (JSON) and shell forms. Heredocs are
// refused rather than misread.
func parseDockerfile(name, src string) (*dockerfile, error) {
	d := &dockerfile{path: name}
	var cur strings.Builder
	start := 0
	flush := func() error {
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" {
			return nil
		}
		cmd, args, _ := strings.Cut(text, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start}
		if strings.Contains(in.args, "<<") && (in.cmd == "RUN" || in.cmd == "COPY") {
			return fmt.Errorf("%s:%d: heredocs are not supported by this validator", name, start)
		}
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			for len(f) > 0 && strings.HasPrefix(f[0], "--") {
				f = f[1:]
			}
			if len(f) == 0 {
				return fmt.Errorf("%s:%d: FROM without an image", name, start)
			}
			s := &stage{index: len(d.stages), image: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.name = strings.ToLower(f[2])
			}
			d.stages = append(d.stages, s)
		}
		if len(d.stages) == 0 {
			if in.cmd == "ARG" {
				return nil // global ARGs before the first FROM
			}
			return fmt.Errorf("%s:%d: %s before the first FROM", name, start, in.cmd)
		}
		s := d.stages[len(d.stages)-1]
		s.instrs = append(s.instrs, in)
		return nil
	}
	for i, line := range strings.Split(src, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() > 0) {
			continue // comment, or a blank line inside a continuation
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(trimmed, `\`) {
			cur.WriteString(strings.TrimSuffix(trimmed, `\`))
			cur.WriteString(" ")
			continue
		}
		cur.WriteString(trimmed)
		if err := flush(); err != nil {
			return nil, err
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if len(d.stages) == 0 {
		return nil, fmt.Errorf("%s: no FROM", name)
	}
	return d, nil
}

// execForm parses ["a", "b"]; ok is false for the shell form.
func execForm(args string) ([]string, bool) {
	args = strings.TrimSpace(args)
	if !strings.HasPrefix(args, "[") {
		return nil, false
	}
	var out []string
	if err := json.Unmarshal([]byte(args), &out); err != nil {
		return nil, false
	}
	return out, true
}

// copyArgs splits COPY/ADD arguments into flags, sources and destination.
func copyArgs(args string) (flags map[string]string, srcs []string, dest string, err error) {
	flags = map[string]string{}
	rest := strings.TrimSpace(args)
	for strings.HasPrefix(rest, "--") {
		f, r, _ := strings.Cut(rest, " ")
		k, v, _ := strings.Cut(strings.TrimPrefix(f, "--"), "=")
		flags[k] = v
		rest = strings.TrimSpace(r)
	}
	parts, ok := execForm(rest)
	if !ok {
		parts = strings.Fields(rest)
	}
	if len(parts) < 2 {
		return nil, nil, "", fmt.Errorf("want sources and a destination, got %q", args)
	}
	return flags, parts[:len(parts)-1], parts[len(parts)-1], nil
}

// lastArg returns the arguments of the stage's last instruction cmd.
func (s *stage) last(cmd string) (instruction, bool) {
	for i := len(s.instrs) - 1; i >= 0; i-- {
		if s.instrs[i].cmd == cmd {
			return s.instrs[i], true
		}
	}
	return instruction{}, false
}

// provided lists the paths COPY puts into this stage's file system.
func (s *stage) provided() map[string]bool {
	out := map[string]bool{}
	for _, in := range s.instrs {
		if in.cmd != "COPY" && in.cmd != "ADD" {
			continue
		}
		_, srcs, dest, err := copyArgs(in.args)
		if err != nil {
			continue
		}
		if len(srcs) > 1 || strings.HasSuffix(dest, "/") {
			for _, src := range srcs {
				out[path.Join(dest, path.Base(src))] = true
			}
		} else {
			out[path.Clean(dest)] = true
		}
	}
	return out
}

// imageDefaults is how the image runs when nothing overrides it.
type imageDefaults struct {
	entrypoint  []string
	cmd         []string
	env         map[string]string
	user        string
	healthcheck []string // exec form of HEALTHCHECK CMD; nil if none
}

func (d *dockerfile) defaults() imageDefaults {
	f := d.final()
	out := imageDefaults{env: map[string]string{}}
	for _, in := range f.instrs {
		switch in.cmd {
		case "ENTRYPOINT":
			out.entrypoint, _ = execForm(in.args)
		case "CMD":
			out.cmd, _ = execForm(in.args)
		case "USER":
			out.user = in.args
		case "ENV":
			for _, kv := range strings.Fields(in.args) {
				if k, v, ok := strings.Cut(kv, "="); ok {
					out.env[k] = strings.Trim(v, `"`)
				}
			}
		case "HEALTHCHECK":
			out.healthcheck = nil
			rest := in.args
			for strings.HasPrefix(rest, "--") {
				_, rest, _ = strings.Cut(rest, " ")
				rest = strings.TrimSpace(rest)
			}
			if c, ok := strings.CutPrefix(rest, "CMD "); ok {
				out.healthcheck, _ = execForm(c)
			}
		}
	}
	return out
}

// args is what the program sees: ENTRYPOINT's arguments after the binary,
// then CMD (or the override).
func (im imageDefaults) args(override []string) []string {
	var out []string
	if len(im.entrypoint) > 1 {
		out = append(out, im.entrypoint[1:]...)
	}
	if override != nil {
		return append(out, override...)
	}
	return append(out, im.cmd...)
}

// uid is the numeric user of USER uid[:gid]; ok is false if not numeric.
func (im imageDefaults) uid() (int, bool) {
	u, _, _ := strings.Cut(im.user, ":")
	n, err := strconv.Atoi(u)
	return n, err == nil
}

// checkDockerfile checks one Dockerfile against its build context (with
// its .dockerignore) and, when known, the program its image runs.
func checkDockerfile(d *dockerfile, contextDir string, bin *binary) problems {
	var ps problems
	if len(d.stages) < 2 {
		ps.addf("single stage: build in one stage, copy the result into a small runtime stage")
	}
	ignore, err := dockerignore(contextDir, d.path)
	if err != nil {
		ps.addf("%v", err)
	}
	stageNames := map[string]*stage{}
	for _, s := range d.stages {
		if strings.Contains(s.image, "$") {
			ps.addf("FROM %s: variables in FROM cannot be checked; name the image", s.image)
		} else if _, isStage := stageNames[strings.ToLower(s.image)]; !isStage && s.image != "scratch" {
			if p := imagePinProblem(s.image); p != "" {
				ps.addf("FROM: %s", p)
			}
		}
		ps = append(ps, checkStageCopies(d, s, stageNames, contextDir, ignore)...)
		if s.name != "" {
			stageNames[s.name] = s
		}
		stageNames[strconv.Itoa(s.index)] = s
	}

	f := d.final()
	im := d.defaults()
	if _, ok := f.last("USER"); !ok {
		ps.addf("final stage has no USER: the container would run as root")
	} else if uid, ok := im.uid(); !ok {
		ps.addf("USER %s: use a numeric uid, so Kubernetes' runAsNonRoot can verify it", im.user)
	} else if uid == 0 {
		ps.addf("USER %s: the final stage must not run as root", im.user)
	}
	provided := f.provided()
	if len(im.entrypoint) == 0 {
		ps.addf("final stage has no exec-form ENTRYPOINT")
	} else if !provided[path.Clean(im.entrypoint[0])] {
		ps.addf("ENTRYPOINT %s: no COPY in the final stage puts that file there", im.entrypoint[0])
	}
	if bin == nil {
		return ps
	}

	// The ports the image exposes are the ones its program listens on when
	// run as the image says.
	for k := range im.env {
		if pictorEnvName.MatchString(k) && !bin.env[k] {
			ps.addf("ENV %s: %s does not read that setting", k, bin.name)
		}
	}
	addrs, lps := bin.listen(im.args(nil), im.env)
	ps = append(ps, lps...)
	want := map[int]bool{}
	for name, addr := range addrs {
		host, port, err := splitHostPort(addr)
		if err != nil {
			ps.addf("%s listen address %q: %v", name, addr, err)
			continue
		}
		if loopbackHost(host) {
			ps.addf("%s's %s listener is %s: unreachable from outside the container; listen on :%d", bin.name, name, addr, port)
		}
		want[port] = true
	}
	exposed := map[int]bool{}
	for _, in := range f.instrs {
		if in.cmd != "EXPOSE" {
			continue
		}
		for _, p := range strings.Fields(in.args) {
			n, err := strconv.Atoi(strings.TrimSuffix(p, "/tcp"))
			if err != nil {
				ps.addf("EXPOSE %s: not a TCP port", p)
				continue
			}
			exposed[n] = true
		}
	}
	for p := range want {
		if !exposed[p] {
			ps.addf("%s listens on %d, which is not EXPOSEd", bin.name, p)
		}
	}
	for p := range exposed {
		if !want[p] {
			ps.addf("EXPOSE %d: %s does not listen there", p, bin.name)
		}
	}
	if addrs["http"] != "" {
		if im.healthcheck == nil {
			ps.addf("final stage has no exec-form HEALTHCHECK CMD")
		} else {
			ps = append(ps, checkProbeCommand("HEALTHCHECK", im.healthcheck, provided, bin, addrs["http"])...)
		}
	}
	if strings.HasPrefix(bin.cmdDir, "services/") && !buildsWithVersion(d) {
		ps.addf("no RUN go build with -ldflags -X main.version=...: the binary would not know its version")
	}
	return ps
}

// checkStageCopies checks a stage's COPY/ADD: sources from the build
// context exist and survive .dockerignore, sources from other stages name
// an earlier stage, and a copied Go module brings every module its go.mod
// replaces with a local directory.
func checkStageCopies(d *dockerfile, s *stage, earlier map[string]*stage, contextDir string, ignore *patternmatcher.PatternMatcher) problems {
	var ps problems
	workdir := "/"
	copies := map[string]string{} // context source -> absolute destination
	for _, in := range s.instrs {
		switch in.cmd {
		case "WORKDIR":
			workdir = path.Join(workdir, in.args)
			if path.IsAbs(in.args) {
				workdir = path.Clean(in.args)
			}
			continue
		case "ADD":
			ps.addf("line %d: ADD fetches and unpacks implicitly; use COPY", in.line)
			continue
		case "COPY":
		default:
			continue
		}
		flags, srcs, dest, err := copyArgs(in.args)
		if err != nil {
			ps.addf("line %d: COPY: %v", in.line, err)
			continue
		}
		if from, ok := flags["from"]; ok {
			if _, isStage := earlier[strings.ToLower(from)]; !isStage {
				if p := imagePinProblem(from); p != "" {
					ps.addf("line %d: COPY --from=%s is no earlier stage, and as an image: %s", in.line, from, p)
				}
			}
			continue
		}
		absDest := dest
		if !path.IsAbs(dest) {
			absDest = path.Join(workdir, dest)
		}
		for _, src := range srcs {
			clean := path.Clean(strings.TrimPrefix(src, "./"))
			if clean == ".." || strings.HasPrefix(clean, "../") || path.IsAbs(clean) {
				ps.addf("line %d: COPY %s reaches outside the build context", in.line, src)
				continue
			}
			matches, _ := filepath.Glob(filepath.Join(contextDir, filepath.FromSlash(clean)))
			if len(matches) == 0 {
				ps.addf("line %d: COPY %s: not in the build context %s", in.line, src, contextDir)
				continue
			}
			if ignore != nil {
				if excluded, _ := ignore.MatchesOrParentMatches(clean); excluded {
					ps.addf("line %d: COPY %s: excluded from the build context by .dockerignore", in.line, src)
					continue
				}
			}
			if len(srcs) > 1 && !strings.HasSuffix(dest, "/") {
				ps.addf("line %d: COPY of several sources needs a destination ending in /", in.line)
			}
			copies[clean] = absDest
		}
	}
	// A module built with GOWORK=off needs each local replace target at the
	// same relative place.
	for src, dest := range copies {
		gomod := filepath.Join(contextDir, filepath.FromSlash(src), "go.mod")
		data, err := os.ReadFile(gomod)
		if err != nil {
			continue
		}
		mf, err := modfile.Parse(gomod, data, nil)
		if err != nil {
			ps.addf("%s: %v", gomod, err)
			continue
		}
		for _, r := range mf.Replace {
			if r.New.Version != "" || !(strings.HasPrefix(r.New.Path, "./") || strings.HasPrefix(r.New.Path, "../")) {
				continue
			}
			target := path.Join(src, r.New.Path)
			got, ok := copies[target]
			if !ok {
				ps.addf("%s/go.mod replaces %s with %s, but the Dockerfile does not COPY %s", src, r.Old.Path, r.New.Path, target)
				continue
			}
			if wantDest := path.Join(dest, r.New.Path); got != wantDest {
				ps.addf("COPY %s goes to %s, but %s/go.mod expects it at %s", target, got, src, wantDest)
			}
		}
	}
	return ps
}

// dockerignore loads the ignore file BuildKit uses for this Dockerfile:
// <Dockerfile>.dockerignore next to it, else .dockerignore in the context.
func dockerignore(contextDir, dockerfilePath string) (*patternmatcher.PatternMatcher, error) {
	for _, p := range []string{dockerfilePath + ".dockerignore", filepath.Join(contextDir, ".dockerignore")} {
		f, err := os.Open(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		defer f.Close()
		patterns, err := ignorefile.ReadAll(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", p, err)
		}
		return patternmatcher.New(patterns)
	}
	return nil, nil
}

func buildsWithVersion(d *dockerfile) bool {
	for _, s := range d.stages {
		for _, in := range s.instrs {
			if in.cmd == "RUN" && strings.Contains(in.args, "go build") && strings.Contains(in.args, "-X main.version=") {
				return true
			}
		}
	}
	return false
}

// checkProbeCommand checks a health command (Docker HEALTHCHECK or compose
// healthcheck test, exec form): the program is in the image, and the URL it
// asks is a health path the program serves, on its HTTP port, locally.
func checkProbeCommand(what string, argv []string, provided map[string]bool, bin *binary, httpAddr string) problems {
	var ps problems
	if len(argv) == 0 {
		return append(ps, what+": empty command")
	}
	if provided != nil && !provided[path.Clean(argv[0])] {
		ps.addf("%s runs %s, which no COPY in the final stage puts there", what, argv[0])
	}
	var u *url.URL
	for _, a := range argv[1:] {
		if p, err := url.Parse(a); err == nil && (p.Scheme == "http" || p.Scheme == "https") {
			u = p
		}
	}
	if u == nil {
		return append(ps, fmt.Sprintf("%s %q: no http URL to probe", what, argv))
	}
	_, wantPort, _ := splitHostPort(httpAddr)
	host, port, err := splitHostPort(u.Host)
	switch {
	case err != nil:
		ps.addf("%s %s: want host:port in the URL", what, u)
	case !loopbackHost(host):
		ps.addf("%s %s: probe the container itself (127.0.0.1)", what, u)
	case port != wantPort:
		ps.addf("%s %s: %s serves HTTP on port %d, not %d", what, u, bin.name, wantPort, port)
	}
	if !healthPaths[u.Path] || !bin.served[u.Path] {
		ps.addf("%s %s: %s is not a health path %s serves (/healthz, /readyz)", what, u, u.Path, bin.name)
	}
	return ps
}

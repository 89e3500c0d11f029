package deploy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"
)

// loadCompose loads a compose file the way `docker compose` does: the
// compose-spec JSON schema (embedded in compose-go, nothing is fetched),
// YAML anchors and merge keys, ${VAR} interpolation from env, relative
// paths resolved against workingDir.
func loadCompose(workingDir, filename string, content []byte, env map[string]string) (*types.Project, error) {
	return loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  workingDir,
		ConfigFiles: []types.ConfigFile{{Filename: filename, Content: content}},
		Environment: env,
	}, func(o *loader.Options) {
		// As docker compose does: the directory's name unless the file
		// has a name: of its own.
		o.SetProjectName(loader.NormalizeProjectName(filepath.Base(workingDir)), false)
	})
}

// publishedPort is a port the compose file must publish: a service's
// listener on the host port the dev stack (scripts/dev.sh) uses.
type publishedPort struct {
	service, listener, devVar string
}

// composeService is one service with what the checks derived about it.
type composeService struct {
	name  string
	svc   types.ServiceConfig
	df    *dockerfile // nil for images not built here
	im    imageDefaults
	bin   *binary // nil for third-party images
	args  []string
	env   map[string]string
	addrs map[string]string
}

// healthcheck is the service's effective exec-form health command: the
// compose override, else the image's HEALTHCHECK.
func (s *composeService) healthcheck() []string {
	if hc := s.svc.HealthCheck; hc != nil {
		if hc.Disable || len(hc.Test) == 0 || hc.Test[0] == "NONE" {
			return nil
		}
		if hc.Test[0] == "CMD" || hc.Test[0] == "CMD-SHELL" {
			return hc.Test[1:]
		}
		return hc.Test
	}
	return s.im.healthcheck
}

// checkComposeProject checks a loaded compose project against the
// Dockerfiles it builds and the programs they run. expect lists the ports
// that must be published (nil: no such expectation).
func checkComposeProject(p *types.Project, bins map[string]*binary, expect []publishedPort, dev map[string]int) problems {
	var ps problems
	services := map[string]*composeService{}
	built := map[string]*composeService{} // image -> the service that builds it
	checkedDockerfiles := map[string]bool{}

	names := sortedKeys(p.Services)
	for _, name := range names {
		svc := p.Services[name]
		cs := &composeService{name: name, svc: svc, env: map[string]string{}}
		services[name] = cs
		if pr := imagePinProblem(svc.Image); pr != "" {
			ps.addf("service %s: %s", name, pr)
		}
		if svc.Build == nil {
			continue
		}
		if svc.Build.DockerfileInline != "" {
			ps.addf("service %s: dockerfile_inline cannot be checked; use a file under deploy/docker", name)
			continue
		}
		dfPath := svc.Build.Dockerfile
		if dfPath == "" {
			dfPath = "Dockerfile"
		}
		if !filepath.IsAbs(dfPath) {
			dfPath = filepath.Join(svc.Build.Context, dfPath)
		}
		src, err := os.ReadFile(dfPath)
		if err != nil {
			ps.addf("service %s: build dockerfile: %v", name, err)
			continue
		}
		df, err := parseDockerfile(dfPath, string(src))
		if err != nil {
			ps.addf("service %s: %v", name, err)
			continue
		}
		cs.df = df
		cs.bin = bins[strings.TrimSuffix(filepath.Base(dfPath), ".Dockerfile")]
		if cs.bin == nil {
			ps.addf("service %s: %s builds no program the validator knows (want deploy/docker/<program>.Dockerfile)", name, dfPath)
		}
		if key := dfPath + "\x00" + svc.Build.Context; !checkedDockerfiles[key] {
			checkedDockerfiles[key] = true
			for _, pr := range checkDockerfile(df, svc.Build.Context, cs.bin) {
				ps.addf("%s: %s", dfPath, pr)
			}
		}
		if other, ok := built[svc.Image]; ok && other.df.path != df.path {
			ps.addf("services %s and %s build image %s from different Dockerfiles", other.name, name, svc.Image)
		}
		built[svc.Image] = cs
	}

	for _, name := range names {
		cs := services[name]
		if cs.df == nil {
			if b, ok := built[cs.svc.Image]; ok {
				cs.df, cs.bin = b.df, b.bin
			}
		}
		if cs.df != nil {
			cs.im = cs.df.defaults()
		}
		if cs.bin == nil {
			ps = append(ps, checkThirdPartyService(cs)...)
			continue
		}
		ps = append(ps, checkPictorService(cs)...)
	}

	for _, name := range names {
		ps = append(ps, checkDependsOn(services[name], services)...)
		if cs := services[name]; cs.bin != nil {
			ps = append(ps, checkComposeRefs(cs, services)...)
		}
	}

	for _, e := range expect {
		cs := services[e.service]
		want, ok := dev[e.devVar]
		switch {
		case cs == nil:
			ps.addf("no service %s: it should publish its %s port on %d like the dev stack", e.service, e.listener, want)
			continue
		case !ok:
			ps.addf("scripts/dev.sh has no default for %s", e.devVar)
			continue
		}
		_, target, _ := splitHostPort(cs.addrs[e.listener])
		found := false
		for _, port := range cs.svc.Ports {
			if int(port.Target) == target && port.Published == strconv.Itoa(want) {
				found = true
			}
		}
		if !found {
			ps.addf("service %s: publish its %s port %d on host port %d, as the dev stack does (%s)", e.service, e.listener, target, want, e.devVar)
		}
	}
	if expect != nil {
		for _, name := range names {
			for _, port := range services[name].svc.Ports {
				listed := false
				for _, e := range expect {
					if e.service == name && port.Published == strconv.Itoa(dev[e.devVar]) {
						listed = true
					}
				}
				if !listed {
					ps.addf("service %s publishes %s:%d, which the dev stack does not: keep it on the compose network", name, port.Published, port.Target)
				}
			}
		}
	}
	return ps
}

// checkPictorService checks a service that runs one of Pictor's programs.
func checkPictorService(cs *composeService) problems {
	var ps problems
	where := "service " + cs.name
	svc, bin := cs.svc, cs.bin
	if len(svc.Entrypoint) > 0 {
		ps.addf("%s: entrypoint overrides the image's; pass arguments with command instead", where)
	}
	var override []string
	if len(svc.Command) > 0 {
		override = svc.Command
	}
	cs.args = cs.im.args(override)
	for k, v := range cs.im.env {
		cs.env[k] = v
	}
	for _, k := range sortedKeys(svc.Environment) {
		v := svc.Environment[k]
		if v == nil {
			ps.addf("%s: %s has no value (it would come from the host's environment)", where, k)
			continue
		}
		cs.env[k] = *v
	}
	ps = append(ps, checkSettings(where, bin, cs.args, cs.env)...)

	addrs, lps := bin.listen(cs.args, cs.env)
	for _, p := range lps {
		ps.addf("%s: %s", where, p)
	}
	cs.addrs = addrs
	listenPorts := map[int]string{}
	for name, addr := range addrs {
		host, port, err := splitHostPort(addr)
		if err != nil {
			ps.addf("%s: %s listen address %q: %v", where, name, addr, err)
			continue
		}
		if loopbackHost(host) {
			ps.addf("%s: listens on %s, unreachable from other containers and published ports", where, addr)
		}
		listenPorts[port] = name
	}
	for _, port := range svc.Ports {
		if _, ok := listenPorts[int(port.Target)]; !ok {
			ps.addf("%s: publishes container port %d, but %s listens on %v", where, port.Target, bin.name, addrs)
		}
		if port.HostIP == "" {
			ps.addf("%s: port %d is published on every host interface; bind it (${PICTOR_COMPOSE_BIND:-127.0.0.1})", where, port.Target)
		}
		if _, err := strconv.Atoi(port.Published); err != nil {
			ps.addf("%s: published port %q is not a single port", where, port.Published)
		}
	}
	if http := addrs["http"]; http != "" {
		if hc := cs.healthcheck(); hc == nil {
			ps.addf("%s: no healthcheck (neither in compose nor in the image)", where)
		} else {
			var provided map[string]bool
			if cs.df != nil {
				provided = cs.df.final().provided()
			}
			ps = append(ps, checkProbeCommand(where+" healthcheck", hc, provided, bin, http)...)
		}
	}
	ps = append(ps, checkComposeMounts(cs)...)
	return ps
}

// checkSettings checks the PICTOR_* settings a program is given: each is
// one it reads, and each it requires for these arguments is set.
func checkSettings(where string, bin *binary, args []string, env map[string]string) problems {
	var ps problems
	for _, k := range sortedKeys(env) {
		if pictorEnvName.MatchString(k) && !bin.env[k] {
			ps.addf("%s: %s is not a setting %s reads", where, k, bin.name)
		}
	}
	run := strings.Join(append([]string{bin.name}, args...), " ")
	for _, k := range bin.requiredFor(args) {
		if env[k] == "" {
			ps.addf("%s: %s is required by `%s` but not set", where, k, run)
		}
	}
	ps = append(ps, checkSignupOff(where, bin, args, env)...)
	return ps
}

// signupSetting turns the control plane's self-service sign-up on or off.
const signupSetting = "PICTOR_SIGNUP_ENABLED"

// checkSignupOff: the deployment examples serve the control plane with
// self-service sign-up off. The program's default is on, for the dev
// stack; a site that wants a public sign-up page turns it on knowingly.
func checkSignupOff(where string, bin *binary, args []string, env map[string]string) problems {
	var ps problems
	if bin.name != "controlplane" || len(args) == 0 || args[0] != "serve" {
		return nil
	}
	if !bin.env[signupSetting] {
		ps.addf("%s: the control plane no longer reads %s; update checkSignupOff", where, signupSetting)
		return ps
	}
	if on, err := strconv.ParseBool(env[signupSetting]); err != nil || on {
		ps.addf("%s: %s is %q: self-service sign-up is on (the program's default); the examples ship it off (false)", where, signupSetting, env[signupSetting])
	}
	return ps
}

// checkComposeMounts: the directories the program writes are mounted, and
// its data directory on a volume that outlives the container.
func checkComposeMounts(cs *composeService) problems {
	var ps problems
	where := "service " + cs.name
	mountedAt := func(dir string) (types.ServiceVolumeConfig, bool) {
		for _, v := range cs.svc.Volumes {
			if v.Target == dir || strings.HasPrefix(dir, strings.TrimSuffix(v.Target, "/")+"/") {
				return v, !v.ReadOnly
			}
		}
		for _, t := range cs.svc.Tmpfs {
			if target, _, _ := strings.Cut(t, ":"); target == dir {
				return types.ServiceVolumeConfig{Type: types.VolumeTypeTmpfs, Target: dir}, true
			}
		}
		return types.ServiceVolumeConfig{}, false
	}
	for _, e := range cs.bin.dirEnv {
		dir := cs.env[e]
		if dir == "" {
			dir = cs.bin.defaults[e]
		}
		v, ok := mountedAt(dir)
		if !ok || (v.Type != types.VolumeTypeVolume && v.Type != types.VolumeTypeBind) {
			ps.addf("%s: %s (%s) is not on a writable volume; its contents would be lost with the container", where, e, dir)
		}
	}
	if cs.svc.ReadOnly {
		for _, dir := range cs.bin.scratchDirs {
			if _, ok := mountedAt(dir); !ok {
				ps.addf("%s: read_only root file system, but %s is not mounted writable (tmpfs)", where, dir)
			}
		}
	}
	return ps
}

// checkThirdPartyService checks Postgres and Redis as this stack uses them.
func checkThirdPartyService(cs *composeService) problems {
	var ps problems
	where := "service " + cs.name
	switch imageBase(cs.svc.Image) {
	case "redis":
		cmd := []string(cs.svc.Command)
		if v, _ := lookupFlag(cmd, "maxmemory"); v == "" {
			ps.addf("%s: Redis is a cache here: bound it with --maxmemory", where)
		}
		if v, _ := lookupFlag(cmd, "maxmemory-policy"); !strings.HasPrefix(v, "allkeys-") {
			ps.addf("%s: --maxmemory-policy %q: a cache must evict any key (allkeys-lru)", where, v)
		}
		if v, ok := lookupFlag(cmd, "save"); !ok || v != "" {
			ps.addf(`%s: Redis is a cache: disable snapshots with --save ""`, where)
		}
		if v, _ := lookupFlag(cmd, "appendonly"); v != "no" {
			ps.addf("%s: Redis is a cache: --appendonly no", where)
		}
	case "postgres":
		found := false
		for _, v := range cs.svc.Volumes {
			if v.Target == "/var/lib/postgresql/data" && (v.Type == types.VolumeTypeVolume || v.Type == types.VolumeTypeBind) {
				found = true
			}
		}
		if !found {
			ps.addf("%s: no volume on /var/lib/postgresql/data: the database would go with the container", where)
		}
		if cs.svc.Environment["POSTGRES_PASSWORD"] == nil {
			ps.addf("%s: POSTGRES_PASSWORD is not set", where)
		}
	}
	return ps
}

// checkDependsOn checks start-up ordering: a service_healthy dependency has
// a health check, a service_completed_successfully one is a one-shot, the
// control plane waits for the migrations and whatever uses the database
// waits until it is healthy.
func checkDependsOn(cs *composeService, all map[string]*composeService) problems {
	var ps problems
	where := "service " + cs.name
	for _, dep := range sortedKeys(cs.svc.DependsOn) {
		d := cs.svc.DependsOn[dep]
		target := all[dep]
		if target == nil {
			ps.addf("%s: depends on unknown service %s", where, dep)
			continue
		}
		switch d.Condition {
		case types.ServiceConditionHealthy:
			if target.healthcheck() == nil {
				ps.addf("%s: waits for %s to be healthy, but %s has no healthcheck", where, dep, dep)
			}
		case types.ServiceConditionCompletedSuccessfully:
			if r := target.svc.Restart; r != "" && r != types.RestartPolicyNo {
				ps.addf("%s: waits for %s to complete, but %s restarts (%s)", where, dep, dep, r)
			}
		}
	}
	if cs.bin != nil && cs.bin.name == "controlplane" && len(cs.args) > 0 && cs.args[0] == "serve" {
		ok := false
		for dep, d := range cs.svc.DependsOn {
			t := all[dep]
			if t != nil && t.bin == cs.bin && len(t.args) > 0 && t.args[0] == "migrate" && d.Condition == types.ServiceConditionCompletedSuccessfully {
				ok = true
			}
		}
		if !ok {
			ps.addf("%s: the control plane must start after the migrations: depends_on a `migrate up` service with condition service_completed_successfully", where)
		}
	}
	if db := cs.env["PICTOR_DATABASE_URL"]; db != "" {
		if host := urlHost(db); all[host] != nil && !dependsHealthy(cs, host, all, map[string]bool{}) {
			ps.addf("%s: uses the database service %s but does not (through its dependencies) wait for it to be healthy", where, host)
		}
	}
	return ps
}

func dependsHealthy(cs *composeService, target string, all map[string]*composeService, seen map[string]bool) bool {
	if seen[cs.name] {
		return false
	}
	seen[cs.name] = true
	for dep, d := range cs.svc.DependsOn {
		if dep == target && d.Condition == types.ServiceConditionHealthy {
			return true
		}
		if t := all[dep]; t != nil && dependsHealthy(t, target, all, seen) {
			return true
		}
	}
	return false
}

var dbURL = regexp.MustCompile(`^postgres(?:ql)?://(?:([^:@/]*)(?::([^@]*))?@)?([^:/?]+)(?::(\d+))?/([^?]*)`)

func urlHost(s string) string {
	if m := dbURL.FindStringSubmatch(s); m != nil {
		return m[3]
	}
	return ""
}

// checkComposeRefs checks that the addresses a program is given name
// services of this file, on the ports they listen on, with matching
// credentials.
func checkComposeRefs(cs *composeService, all map[string]*composeService) problems {
	var ps problems
	where := "service " + cs.name
	if v := cs.env["PICTOR_CONTROL_PLANE_ADDR"]; v != "" {
		host, port, err := splitHostPort(v)
		t := all[host]
		switch {
		case err != nil:
			ps.addf("%s: PICTOR_CONTROL_PLANE_ADDR %q: %v", where, v, err)
		case t == nil || t.bin == nil || t.bin.name != "controlplane" || t.addrs["grpc"] == "":
			ps.addf("%s: PICTOR_CONTROL_PLANE_ADDR %q: no control plane service %q serving gRPC", where, v, host)
		default:
			if _, grpcPort, _ := splitHostPort(t.addrs["grpc"]); grpcPort != port {
				ps.addf("%s: PICTOR_CONTROL_PLANE_ADDR %q: %s serves gRPC on %d", where, v, host, grpcPort)
			}
		}
	}
	if v := cs.env["PICTOR_REDIS_ADDRS"]; v != "" {
		for _, a := range strings.Split(v, ",") {
			host, port, err := splitHostPort(strings.TrimSpace(a))
			t := all[host]
			switch {
			case err != nil:
				ps.addf("%s: PICTOR_REDIS_ADDRS entry %q: %v", where, a, err)
			case t == nil || imageBase(t.svc.Image) != "redis":
				ps.addf("%s: PICTOR_REDIS_ADDRS entry %q: no Redis service %q", where, a, host)
			default:
				want := 6379
				if p, ok := lookupFlag(t.svc.Command, "port"); ok {
					want, _ = strconv.Atoi(p)
				}
				if port != want {
					ps.addf("%s: PICTOR_REDIS_ADDRS entry %q: %s listens on %d", where, a, host, want)
				}
			}
		}
	}
	if v := cs.env["PICTOR_DATABASE_URL"]; v != "" {
		m := dbURL.FindStringSubmatch(v)
		if m == nil {
			ps.addf("%s: PICTOR_DATABASE_URL is not a postgres:// URL", where)
		} else if t := all[m[3]]; t != nil {
			env := func(k, def string) string {
				if p := t.svc.Environment[k]; p != nil && *p != "" {
					return *p
				}
				return def
			}
			user := env("POSTGRES_USER", "postgres")
			if imageBase(t.svc.Image) != "postgres" {
				ps.addf("%s: PICTOR_DATABASE_URL points at %s, which is not a Postgres image", where, m[3])
			}
			if m[4] != "" && m[4] != "5432" {
				ps.addf("%s: PICTOR_DATABASE_URL port %s: Postgres listens on 5432", where, m[4])
			}
			if m[1] != user {
				ps.addf("%s: PICTOR_DATABASE_URL user %q, but %s creates %q", where, m[1], m[3], user)
			}
			if m[2] != env("POSTGRES_PASSWORD", "") {
				ps.addf("%s: PICTOR_DATABASE_URL password differs from %s's POSTGRES_PASSWORD", where, m[3])
			}
			if db := env("POSTGRES_DB", user); m[5] != db {
				ps.addf("%s: PICTOR_DATABASE_URL database %q, but %s creates %q", where, m[5], m[3], db)
			}
		} else {
			ps.addf("%s: PICTOR_DATABASE_URL host %q is no service of this file", where, m[3])
		}
	}
	if v := cs.env["PICTOR_PUBLIC_EDGE_URL"]; v != "" {
		_, port, err := splitHostPort(strings.TrimPrefix(strings.TrimPrefix(strings.TrimRight(v, "/"), "http://"), "https://"))
		found := false
		for _, t := range all {
			if t.bin == nil || t.bin.name != "edge" {
				continue
			}
			for _, p := range t.svc.Ports {
				if p.Published == strconv.Itoa(port) {
					found = true
				}
			}
		}
		if err != nil || !found {
			ps.addf("%s: PICTOR_PUBLIC_EDGE_URL %q is not a port an edge service publishes", where, v)
		}
	}
	return ps
}

// composeSecretVars must never have a literal value in the compose file.
var composeSecretVars = []string{"PICTOR_ADMIN_TOKEN", "PICTOR_MASTER_KEY", "PICTOR_EDGE_TOKEN", "PICTOR_REDIS_PASSWORD", "POSTGRES_PASSWORD"}

// checkComposeSecrets reads the compose file as plain YAML (before any
// interpolation) and checks that secrets come from variables, never from
// literal values committed with the file.
func checkComposeSecrets(raw []byte) problems {
	var ps problems
	var doc struct {
		Services map[string]struct {
			Environment any `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return append(ps, err.Error())
	}
	for _, name := range sortedKeys(doc.Services) {
		env := map[string]string{}
		switch e := doc.Services[name].Environment.(type) {
		case map[string]any:
			for k, v := range e {
				if v != nil {
					env[k] = fmt.Sprint(v)
				}
			}
		case []any:
			for _, item := range e {
				if k, v, ok := strings.Cut(fmt.Sprint(item), "="); ok {
					env[k] = v
				}
			}
		}
		for _, k := range composeSecretVars {
			if v, ok := env[k]; ok && v != "" && !strings.Contains(v, "${") {
				ps.addf("service %s: %s has a literal value: take it from a variable (${%s:?...}) set in deploy/compose.env", name, k, k)
			}
		}
		if m := dbURL.FindStringSubmatch(env["PICTOR_DATABASE_URL"]); m != nil && m[2] != "" && !strings.Contains(m[2], "${") {
			ps.addf("service %s: PICTOR_DATABASE_URL has a literal password: use ${POSTGRES_PASSWORD:?...}", name)
		}
	}
	return ps
}

var composeVarRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])[^}]*)?\}`)

var commentedVar = regexp.MustCompile(`(?m)^#\s*([A-Za-z_][A-Za-z0-9_]*)=`)

// checkComposeEnvExample checks the env example against the variables the
// compose file interpolates: each is documented, each required one
// (${VAR:?...}) is listed with an empty value, so the example ships no
// secret and compose refuses to start until it is filled in, and nothing
// stale is listed. It returns the example's values with every empty
// required variable given a placeholder, to load the compose file with.
func checkComposeEnvExample(composeRaw, exampleRaw string) (map[string]string, problems) {
	var ps problems
	active, err := dotenv.Parse(strings.NewReader(exampleRaw))
	if err != nil {
		return nil, append(ps, fmt.Sprintf("env example: %v", err))
	}
	documented := map[string]bool{}
	for k := range active {
		documented[k] = true
	}
	for _, m := range commentedVar.FindAllStringSubmatch(exampleRaw, -1) {
		documented[m[1]] = true
	}
	referenced := map[string]bool{}
	required := map[string]bool{}
	for _, m := range composeVarRef.FindAllStringSubmatch(composeRaw, -1) {
		referenced[m[1]] = true
		if strings.HasSuffix(m[2], "?") {
			required[m[1]] = true
		}
	}
	env := map[string]string{}
	for k, v := range active {
		env[k] = v
	}
	for _, k := range sortedKeys(referenced) {
		switch {
		case !documented[k]:
			ps.addf("env example: %s (used by the compose file) is not documented", k)
		case required[k] && active[k] == "" && !hasKey(active, k):
			ps.addf("env example: %s is required by the compose file; list it (empty) instead of commenting it out", k)
		case required[k] && active[k] != "":
			ps.addf("env example: %s has a value; ship secrets empty so each site generates its own", k)
		}
		if required[k] && env[k] == "" {
			env[k] = strings.Repeat("0123456789abcdef", 4) // valid for tokens and the 64-hex master key
		}
	}
	for _, k := range sortedKeys(active) {
		if !referenced[k] {
			ps.addf("env example: %s is not used by the compose file", k)
		}
	}
	return env, ps
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

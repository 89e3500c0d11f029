package deploy

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/api/krusty"
	kusttypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	sigsyaml "sigs.k8s.io/yaml"
)

// renderKustomization runs kustomize (in process, the same library
// `kubectl apply -k` uses) on a directory and returns one YAML document per
// resource.
func renderKustomization(dir string) ([][]byte, error) {
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, err
	}
	var docs [][]byte
	for _, r := range m.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			return nil, err
		}
		docs = append(docs, y)
	}
	return docs, nil
}

// manifests are the decoded resources, by kind.
type manifests struct {
	deployments []*appsv1.Deployment
	jobs        []*batchv1.Job
	services    []*corev1.Service
	configMaps  map[string]*corev1.ConfigMap
	secrets     map[string]*corev1.Secret
	hpas        []*autoscalingv2.HorizontalPodAutoscaler
	pdbs        []*policyv1.PodDisruptionBudget
	ingresses   []*networkingv1.Ingress
	namespaces  []*corev1.Namespace
}

// decodeManifests decodes every document strictly into its Kubernetes API
// type: an unknown or misspelt field, a wrong type or a bad quantity is an
// error, which is what a schema validator would catch. Kinds without a Go
// type here are refused rather than passed unchecked.
func decodeManifests(docs [][]byte) (*manifests, problems) {
	var ps problems
	m := &manifests{configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}}
	for _, doc := range docs {
		var meta struct {
			APIVersion string            `json:"apiVersion"`
			Kind       string            `json:"kind"`
			Metadata   metav1.ObjectMeta `json:"metadata"`
		}
		if err := sigsyaml.Unmarshal(doc, &meta); err != nil {
			ps.addf("%v", err)
			continue
		}
		id := fmt.Sprintf("%s %s %s", meta.APIVersion, meta.Kind, meta.Metadata.Name)
		var obj any
		switch meta.APIVersion + " " + meta.Kind {
		case "apps/v1 Deployment":
			d := &appsv1.Deployment{}
			m.deployments, obj = append(m.deployments, d), d
		case "batch/v1 Job":
			j := &batchv1.Job{}
			m.jobs, obj = append(m.jobs, j), j
		case "v1 Service":
			s := &corev1.Service{}
			m.services, obj = append(m.services, s), s
		case "v1 ConfigMap":
			c := &corev1.ConfigMap{}
			m.configMaps[meta.Metadata.Name], obj = c, c
		case "v1 Secret":
			s := &corev1.Secret{}
			m.secrets[meta.Metadata.Name], obj = s, s
		case "autoscaling/v2 HorizontalPodAutoscaler":
			h := &autoscalingv2.HorizontalPodAutoscaler{}
			m.hpas, obj = append(m.hpas, h), h
		case "policy/v1 PodDisruptionBudget":
			p := &policyv1.PodDisruptionBudget{}
			m.pdbs, obj = append(m.pdbs, p), p
		case "networking.k8s.io/v1 Ingress":
			i := &networkingv1.Ingress{}
			m.ingresses, obj = append(m.ingresses, i), i
		case "v1 Namespace":
			n := &corev1.Namespace{}
			m.namespaces, obj = append(m.namespaces, n), n
		default:
			ps.addf("%s: no schema for this kind here (add it to decodeManifests)", id)
			continue
		}
		if err := sigsyaml.UnmarshalStrict(doc, obj); err != nil {
			ps.addf("%s: %v", id, err)
		}
	}
	return m, ps
}

// podContainer is one container with what the checks derived about it.
type podContainer struct {
	c     corev1.Container
	bin   *binary
	args  []string
	env   map[string]string
	addrs map[string]string
}

// workload is a Deployment or Job: its pod template and containers.
type workload struct {
	id         string
	labels     map[string]string
	spec       *corev1.PodSpec
	deployment *appsv1.Deployment
	containers []*podContainer
}

func (w *workload) runs(name string) *podContainer {
	for _, c := range w.containers {
		if c.bin != nil && c.bin.name == name {
			return c
		}
	}
	return nil
}

// containerPort resolves a probe's or Service's target port (name or
// number) to a container port number of the workload; 0 if none.
func (w *workload) containerPort(p intstr.IntOrString) int {
	for _, c := range w.spec.Containers {
		for _, cp := range c.Ports {
			if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
				return int(cp.ContainerPort)
			}
		}
	}
	return 0
}

type k8sOptions struct {
	// placeholderSecrets: every Secret value must be a REPLACE_ME
	// placeholder (an example overlay must not ship real secrets).
	placeholderSecrets bool
}

// checkManifests checks rendered manifests against the programs their
// images run (and those images' Dockerfiles) and against each other.
func checkManifests(m *manifests, bins map[string]*binary, images map[string]imageDefaults, opts k8sOptions) problems {
	var ps problems
	var workloads []*workload
	for _, d := range m.deployments {
		workloads = append(workloads, &workload{id: "Deployment " + d.Name, labels: d.Spec.Template.Labels, spec: &d.Spec.Template.Spec, deployment: d})
	}
	for _, j := range m.jobs {
		workloads = append(workloads, &workload{id: "Job " + j.Name, labels: j.Spec.Template.Labels, spec: &j.Spec.Template.Spec})
	}
	for _, w := range workloads {
		ps = append(ps, checkWorkload(w, m, bins, images)...)
	}
	for _, j := range m.jobs {
		ps = append(ps, checkJob(j, workloads)...)
	}
	ps = append(ps, checkServices(m, workloads)...)
	ps = append(ps, checkScaling(m, workloads)...)
	ps = append(ps, checkIngresses(m)...)
	ps = append(ps, checkK8sRefs(m, workloads)...)
	if opts.placeholderSecrets {
		for _, name := range sortedKeys(m.secrets) {
			s := m.secrets[name]
			for k, v := range s.StringData {
				if !strings.Contains(v, "REPLACE_ME") {
					ps.addf("Secret %s: %s is not a REPLACE_ME placeholder; an example must not carry a real secret", name, k)
				}
			}
			for k, v := range s.Data {
				if !strings.Contains(string(v), "REPLACE_ME") {
					ps.addf("Secret %s: %s is not a REPLACE_ME placeholder; an example must not carry a real secret", name, k)
				}
			}
		}
	}
	return ps
}

func checkWorkload(w *workload, m *manifests, bins map[string]*binary, images map[string]imageDefaults) problems {
	var ps problems
	spec := w.spec
	if d := w.deployment; d != nil {
		if sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err != nil || sel.Empty() || !sel.Matches(labels.Set(w.labels)) {
			ps.addf("%s: spec.selector does not select its own pod template's labels", w.id)
		}
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
	}
	psc := spec.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	for _, c := range spec.InitContainers {
		ps.addf("%s: init container %s is not covered by this validator", w.id, c.Name)
	}
	for _, c := range spec.Containers {
		where := fmt.Sprintf("%s container %s", w.id, c.Name)
		pc := &podContainer{c: c, env: map[string]string{}}
		w.containers = append(w.containers, pc)
		if p := imagePinProblem(c.Image); p != "" {
			ps.addf("%s: %s", where, p)
		}
		pc.bin = bins[imageBase(c.Image)]
		if pc.bin == nil {
			ps.addf("%s: image %s runs no program the validator knows (controlplane, edge)", where, c.Image)
			continue
		}
		im := images[pc.bin.name]

		// Resources: the scheduler needs requests, the HPA needs the CPU
		// request, and a memory limit bounds a leak to one pod.
		req, lim := c.Resources.Requests, c.Resources.Limits
		if req.Cpu().IsZero() || req.Memory().IsZero() {
			ps.addf("%s: set resources.requests.cpu and .memory", where)
		}
		if lim.Memory().IsZero() {
			ps.addf("%s: set resources.limits.memory", where)
		}

		// Security: non-root as the image's own uid, read-only root file
		// system, no privilege escalation, no capabilities, seccomp.
		csc := c.SecurityContext
		if csc == nil {
			csc = &corev1.SecurityContext{}
		}
		if !boolOr(csc.RunAsNonRoot, psc.RunAsNonRoot) {
			ps.addf("%s: runAsNonRoot must be true (pod or container securityContext)", where)
		}
		if uid := int64Or(csc.RunAsUser, psc.RunAsUser); uid != nil {
			if imageUID, ok := im.uid(); *uid == 0 || (ok && *uid != int64(imageUID)) {
				ps.addf("%s: runAsUser %d differs from the image's USER %s", where, *uid, im.user)
			}
		}
		if csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem {
			ps.addf("%s: readOnlyRootFilesystem must be true", where)
		}
		if csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
			ps.addf("%s: allowPrivilegeEscalation must be false", where)
		}
		if csc.Capabilities == nil || !containsCap(csc.Capabilities.Drop, "ALL") || len(csc.Capabilities.Add) > 0 {
			ps.addf("%s: capabilities must drop ALL and add none", where)
		}
		seccomp := csc.SeccompProfile
		if seccomp == nil {
			seccomp = psc.SeccompProfile
		}
		if seccomp == nil || seccomp.Type == corev1.SeccompProfileTypeUnconfined {
			ps.addf("%s: set seccompProfile RuntimeDefault", where)
		}

		// Arguments and settings.
		if len(c.Command) > 0 {
			ps.addf("%s: command replaces the image's ENTRYPOINT; pass args instead", where)
		}
		var override []string // Kubernetes treats empty args as unset: the image's CMD
		if len(c.Args) > 0 {
			override = c.Args
		}
		pc.args = im.args(override)
		for k, v := range im.env {
			pc.env[k] = v
		}
		eps := resolveEnv(where, c, m, pc.env)
		ps = append(ps, eps...)
		ps = append(ps, checkSettings(where, pc.bin, pc.args, pc.env)...)

		addrs, lps := pc.bin.listen(pc.args, pc.env)
		for _, p := range lps {
			ps.addf("%s: %s", where, p)
		}
		pc.addrs = addrs
		listenPorts := map[int]bool{}
		for name, addr := range addrs {
			host, port, err := splitHostPort(addr)
			if err != nil {
				ps.addf("%s: %s listen address %q: %v", where, name, addr, err)
				continue
			}
			if loopbackHost(host) {
				ps.addf("%s: listens on %s, unreachable from other pods", where, addr)
			}
			listenPorts[port] = true
			declared := false
			for _, cp := range c.Ports {
				declared = declared || int(cp.ContainerPort) == port
			}
			if !declared {
				ps.addf("%s: listens on %d (%s) but declares no such containerPort", where, port, name)
			}
		}
		for _, cp := range c.Ports {
			if !listenPorts[int(cp.ContainerPort)] {
				ps.addf("%s: containerPort %d: %s does not listen there (%v)", where, cp.ContainerPort, pc.bin.name, addrs)
			}
		}

		// Probes: Deployments only (a Job runs to completion).
		if http := addrs["http"]; http != "" && w.deployment != nil {
			ps = append(ps, checkProbe(where, "readinessProbe", c.ReadinessProbe, w, pc.bin, http, "/readyz")...)
			// Liveness must not depend on Postgres or the control plane:
			// restarting cannot fix those, and would restart every pod.
			ps = append(ps, checkProbe(where, "livenessProbe", c.LivenessProbe, w, pc.bin, http, "/healthz")...)
		}

		// Writable directories on volumes, as the root file system is not.
		mounted := func(dir string) bool {
			for _, vm := range c.VolumeMounts {
				if (vm.MountPath == dir || strings.HasPrefix(dir, strings.TrimSuffix(vm.MountPath, "/")+"/")) && !vm.ReadOnly {
					return true
				}
			}
			return false
		}
		for _, vm := range c.VolumeMounts {
			if _, ok := volumes[vm.Name]; !ok {
				ps.addf("%s: volumeMount %s names no volume of the pod", where, vm.Name)
			}
		}
		for _, e := range pc.bin.dirEnv {
			dir := pc.env[e]
			if dir == "" {
				dir = pc.bin.defaults[e]
			}
			if !mounted(dir) {
				ps.addf("%s: %s (%s) must be a writable volume mount (the root file system is read-only)", where, e, dir)
			}
		}
		for _, dir := range pc.bin.scratchDirs {
			if !mounted(dir) {
				ps.addf("%s: %s must be a writable volume mount (emptyDir)", where, dir)
			}
		}

		// The grace period covers the preStop pause plus the drain budget.
		if v := pc.env["PICTOR_SHUTDOWN_TIMEOUT"]; v != "" {
			drain, err := time.ParseDuration(v)
			grace := int64(corev1.DefaultTerminationGracePeriodSeconds)
			if spec.TerminationGracePeriodSeconds != nil {
				grace = *spec.TerminationGracePeriodSeconds
			}
			var pause int64
			if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
				pause = c.Lifecycle.PreStop.Sleep.Seconds
			}
			if err == nil && time.Duration(grace)*time.Second <= time.Duration(pause)*time.Second+drain {
				ps.addf("%s: terminationGracePeriodSeconds %d does not cover preStop %ds + PICTOR_SHUTDOWN_TIMEOUT %s", where, grace, pause, v)
			}
		}
	}
	return ps
}

// resolveEnv fills env from the container's envFrom and env, checking that
// every ConfigMap, Secret and key they name exists.
func resolveEnv(where string, c corev1.Container, m *manifests, env map[string]string) problems {
	var ps problems
	for _, ef := range c.EnvFrom {
		switch {
		case ef.ConfigMapRef != nil:
			cm := m.configMaps[ef.ConfigMapRef.Name]
			if cm == nil {
				if ef.ConfigMapRef.Optional == nil || !*ef.ConfigMapRef.Optional {
					ps.addf("%s: envFrom ConfigMap %s does not exist", where, ef.ConfigMapRef.Name)
				}
				continue
			}
			for k, v := range cm.Data {
				env[ef.Prefix+k] = v
			}
		case ef.SecretRef != nil:
			s := m.secrets[ef.SecretRef.Name]
			if s == nil {
				if ef.SecretRef.Optional == nil || !*ef.SecretRef.Optional {
					ps.addf("%s: envFrom Secret %s does not exist", where, ef.SecretRef.Name)
				}
				continue
			}
			for k, v := range s.Data {
				env[ef.Prefix+k] = string(v)
			}
			for k, v := range s.StringData {
				env[ef.Prefix+k] = v
			}
		}
	}
	for _, e := range c.Env {
		vf := e.ValueFrom
		switch {
		case vf == nil:
			env[e.Name] = e.Value
		case vf.SecretKeyRef != nil:
			ref := vf.SecretKeyRef
			v, ok := "", false
			if s := m.secrets[ref.Name]; s != nil {
				if b, in := s.Data[ref.Key]; in {
					v, ok = string(b), true
				} else {
					v, ok = s.StringData[ref.Key]
				}
			}
			if !ok && (ref.Optional == nil || !*ref.Optional) {
				ps.addf("%s: %s comes from Secret %s key %s, which does not exist", where, e.Name, ref.Name, ref.Key)
			}
			env[e.Name] = v
		case vf.ConfigMapKeyRef != nil:
			ref := vf.ConfigMapKeyRef
			v, ok := "", false
			if cm := m.configMaps[ref.Name]; cm != nil {
				v, ok = cm.Data[ref.Key]
			}
			if !ok && (ref.Optional == nil || !*ref.Optional) {
				ps.addf("%s: %s comes from ConfigMap %s key %s, which does not exist", where, e.Name, ref.Name, ref.Key)
			}
			env[e.Name] = v
		default:
			env[e.Name] = "(set by Kubernetes)" // downward API: a value at run time
		}
	}
	return ps
}

func checkProbe(where, kind string, p *corev1.Probe, w *workload, bin *binary, httpAddr, wantPath string) problems {
	var ps problems
	if p == nil {
		return append(ps, fmt.Sprintf("%s: no %s (want httpGet %s)", where, kind, wantPath))
	}
	if p.HTTPGet == nil {
		return append(ps, fmt.Sprintf("%s: %s must be httpGet %s", where, kind, wantPath))
	}
	if got := p.HTTPGet.Path; got != wantPath || !bin.served[got] {
		ps.addf("%s: %s path %q: want %s, a path %s serves", where, kind, got, wantPath, bin.name)
	}
	_, httpPort, _ := splitHostPort(httpAddr)
	if got := w.containerPort(p.HTTPGet.Port); got != httpPort {
		ps.addf("%s: %s port %s resolves to %d, but %s serves HTTP on %d", where, kind, p.HTTPGet.Port.String(), got, bin.name, httpPort)
	}
	return ps
}

// checkJob: the migration Job runs `controlplane migrate up` once.
func checkJob(j *batchv1.Job, workloads []*workload) problems {
	var ps problems
	where := "Job " + j.Name
	if rp := j.Spec.Template.Spec.RestartPolicy; rp != corev1.RestartPolicyNever && rp != corev1.RestartPolicyOnFailure {
		ps.addf("%s: restartPolicy must be Never or OnFailure", where)
	}
	if j.Spec.BackoffLimit == nil {
		ps.addf("%s: set backoffLimit", where)
	}
	for _, w := range workloads {
		if w.id != where {
			continue
		}
		for _, c := range w.containers {
			if c.bin != nil && c.bin.name == "controlplane" && (len(c.args) < 1 || c.args[0] != "migrate") {
				ps.addf("%s: a control plane Job should run `migrate up`, not %q", where, c.args)
			}
		}
	}
	return ps
}

// selects lists the Deployments whose pods a selector matches.
func selects(sel labels.Selector, workloads []*workload) []*workload {
	var out []*workload
	for _, w := range workloads {
		if w.deployment != nil && sel.Matches(labels.Set(w.labels)) {
			out = append(out, w)
		}
	}
	return out
}

// checkServices: each Service selects pods, and its target ports are ports
// those pods declare.
func checkServices(m *manifests, workloads []*workload) problems {
	var ps problems
	for _, s := range m.services {
		where := "Service " + s.Name
		if len(s.Spec.Selector) == 0 {
			ps.addf("%s: no selector", where)
			continue
		}
		matched := selects(labels.SelectorFromSet(s.Spec.Selector), workloads)
		if len(matched) == 0 {
			ps.addf("%s: selector %v matches no Deployment's pod labels", where, s.Spec.Selector)
		}
		for _, p := range s.Spec.Ports {
			tp := p.TargetPort
			if tp.Type == intstr.Int && tp.IntVal == 0 {
				tp = intstr.FromInt32(p.Port)
			}
			for _, w := range matched {
				if w.containerPort(tp) == 0 {
					ps.addf("%s: port %s targets %s, which %s does not declare", where, p.Name, tp.String(), w.id)
				}
			}
		}
	}
	return ps
}

// checkScaling: the HPA scales the edge Deployment, which leaves replicas
// to it and spreads over nodes; every replicated Deployment has exactly one
// PodDisruptionBudget; the control plane runs several replicas.
func checkScaling(m *manifests, workloads []*workload) problems {
	var ps problems
	scaled := map[string]bool{}
	for _, h := range m.hpas {
		where := "HorizontalPodAutoscaler " + h.Name
		ref := h.Spec.ScaleTargetRef
		var target *workload
		for _, w := range workloads {
			if w.deployment != nil && ref.Kind == "Deployment" && ref.APIVersion == "apps/v1" && w.deployment.Name == ref.Name {
				target = w
			}
		}
		if target == nil {
			ps.addf("%s: scaleTargetRef %s %s %s is no Deployment here", where, ref.APIVersion, ref.Kind, ref.Name)
			continue
		}
		scaled[target.deployment.Name] = true
		if target.runs("edge") == nil {
			ps.addf("%s: targets %s, which does not run the edge", where, target.id)
		}
		if target.deployment.Spec.Replicas != nil {
			ps.addf("%s: %s sets replicas, which every apply would reset under the HPA; leave it out", where, target.id)
		}
		if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 2 {
			ps.addf("%s: minReplicas below 2 leaves a single edge", where)
		}
		for _, mt := range h.Spec.Metrics {
			if mt.Resource != nil && mt.Resource.Name == corev1.ResourceCPU {
				for _, c := range target.spec.Containers {
					if c.Resources.Requests.Cpu().IsZero() {
						ps.addf("%s: scales on CPU utilization, but container %s has no CPU request", where, c.Name)
					}
				}
			}
		}
	}
	covered := map[*workload]int{}
	for _, p := range m.pdbs {
		where := "PodDisruptionBudget " + p.Name
		sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
		if err != nil || sel.Empty() {
			ps.addf("%s: bad or empty selector", where)
			continue
		}
		matched := selects(sel, workloads)
		switch len(matched) {
		case 0:
			ps.addf("%s: selector matches no Deployment's pods", where)
		case 1:
			covered[matched[0]]++
			d := matched[0].deployment
			if p.Spec.MinAvailable != nil && p.Spec.MinAvailable.Type == intstr.Int && d.Spec.Replicas != nil && p.Spec.MinAvailable.IntVal >= *d.Spec.Replicas {
				ps.addf("%s: minAvailable %d with %d replicas blocks every node drain", where, p.Spec.MinAvailable.IntVal, *d.Spec.Replicas)
			}
		default:
			ps.addf("%s: selector matches the pods of several Deployments", where)
		}
	}
	for _, w := range workloads {
		d := w.deployment
		if d == nil {
			continue
		}
		replicated := scaled[d.Name] || (d.Spec.Replicas != nil && *d.Spec.Replicas > 1)
		if replicated && covered[w] != 1 {
			ps.addf("%s: want exactly one PodDisruptionBudget selecting its pods, found %d", w.id, covered[w])
		}
		if w.runs("edge") != nil {
			if !scaled[d.Name] {
				ps.addf("%s: runs the edge but no HorizontalPodAutoscaler targets it", w.id)
			}
			if len(w.spec.TopologySpreadConstraints) == 0 {
				ps.addf("%s: no topologySpreadConstraints: edges could pile up on one node", w.id)
			}
		}
		for _, tsc := range w.spec.TopologySpreadConstraints {
			sel, err := metav1.LabelSelectorAsSelector(tsc.LabelSelector)
			if err != nil || sel.Empty() || !sel.Matches(labels.Set(w.labels)) {
				ps.addf("%s: topology spread on %s does not select its own pods", w.id, tsc.TopologyKey)
			}
		}
		if c := w.runs("controlplane"); c != nil && len(c.args) > 0 && c.args[0] == "serve" && (d.Spec.Replicas == nil || *d.Spec.Replicas < 2) {
			ps.addf("%s: run at least 2 control plane replicas", w.id)
		}
	}
	return ps
}

// checkIngresses: backends are existing Service ports; TLS hosts are served
// hosts and get their certificates from cert-manager.
func checkIngresses(m *manifests) problems {
	var ps problems
	services := map[string]*corev1.Service{}
	for _, s := range m.services {
		services[s.Name] = s
	}
	for _, in := range m.ingresses {
		where := "Ingress " + in.Name
		hosts := map[string]bool{}
		for _, r := range in.Spec.Rules {
			hosts[r.Host] = true
			if r.HTTP == nil {
				continue
			}
			for _, p := range r.HTTP.Paths {
				b := p.Backend.Service
				if b == nil {
					ps.addf("%s: host %s path %s has no service backend", where, r.Host, p.Path)
					continue
				}
				s := services[b.Name]
				if s == nil {
					ps.addf("%s: backend Service %s does not exist", where, b.Name)
					continue
				}
				found := false
				for _, sp := range s.Spec.Ports {
					found = found || (b.Port.Name != "" && sp.Name == b.Port.Name) || (b.Port.Name == "" && sp.Port == b.Port.Number)
				}
				if !found {
					ps.addf("%s: Service %s has no port %s%d", where, b.Name, b.Port.Name, b.Port.Number)
				}
			}
		}
		for _, t := range in.Spec.TLS {
			if t.SecretName == "" {
				ps.addf("%s: a tls entry without secretName", where)
			}
			for _, h := range t.Hosts {
				if !hosts[h] {
					ps.addf("%s: tls host %s has no rule", where, h)
				}
			}
		}
		if len(in.Spec.TLS) > 0 && in.Annotations["cert-manager.io/cluster-issuer"] == "" && in.Annotations["cert-manager.io/issuer"] == "" {
			ps.addf("%s: TLS without a cert-manager.io/cluster-issuer (or issuer) annotation: nothing issues or renews the certificate", where)
		}
	}
	return ps
}

// checkK8sRefs: addresses in the settings name things that exist: the
// control plane's gRPC Service port, the ingress host serving the edges.
func checkK8sRefs(m *manifests, workloads []*workload) problems {
	var ps problems
	for _, w := range workloads {
		for _, c := range w.containers {
			where := fmt.Sprintf("%s container %s", w.id, c.c.Name)
			if v := c.env["PICTOR_CONTROL_PLANE_ADDR"]; v != "" {
				if p := checkServiceAddr(v, m, workloads, "controlplane", "grpc"); p != "" {
					ps.addf("%s: PICTOR_CONTROL_PLANE_ADDR %s: %s", where, v, p)
				}
			}
			if v := c.env["PICTOR_DATABASE_URL"]; v != "" {
				if u, err := url.Parse(v); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
					ps.addf("%s: PICTOR_DATABASE_URL is not a postgres:// URL with a host", where)
				}
			}
			if c.bin != nil && c.bin.name == "controlplane" && c.env[trustedProxiesSetting] == "" && behindIngress(w, m) {
				ps.addf("%s: an Ingress routes to it but %s is not set: the per-address limits (logins, sign-ups, unknown API keys) would count every client as the ingress controller", where, trustedProxiesSetting)
			}
			if v := c.env["PICTOR_PUBLIC_EDGE_URL"]; v != "" && len(m.ingresses) > 0 {
				if p := checkPublicEdgeURL(v, m, workloads); p != "" {
					ps.addf("%s: PICTOR_PUBLIC_EDGE_URL %s: %s", where, v, p)
				}
			}
		}
	}
	return ps
}

// trustedProxiesSetting names the proxies whose X-Forwarded-For the
// control plane believes.
const trustedProxiesSetting = "PICTOR_TRUSTED_PROXIES"

// behindIngress reports whether an Ingress routes to a Service selecting
// w's pods.
func behindIngress(w *workload, m *manifests) bool {
	for _, in := range m.ingresses {
		for _, r := range in.Spec.Rules {
			if r.HTTP == nil {
				continue
			}
			for _, p := range r.HTTP.Paths {
				for _, s := range m.services {
					b := p.Backend.Service
					if b != nil && b.Name == s.Name && len(s.Spec.Selector) > 0 &&
						len(selects(labelsSelector(s.Spec.Selector), []*workload{w})) > 0 {
						return true
					}
				}
			}
		}
	}
	return false
}

// checkServiceAddr checks host:port names a Service (short or cluster DNS
// name) whose port reaches the listener of the given program.
func checkServiceAddr(addr string, m *manifests, workloads []*workload, program, listener string) string {
	host, port, err := splitHostPort(addr)
	if err != nil {
		return err.Error()
	}
	labels := strings.Split(host, ".")
	for _, s := range m.services {
		if labels[0] != s.Name {
			continue
		}
		if len(labels) > 1 && s.Namespace != "" && labels[1] != s.Namespace {
			continue
		}
		for _, sp := range s.Spec.Ports {
			if int(sp.Port) != port {
				continue
			}
			tp := sp.TargetPort
			if tp.Type == intstr.Int && tp.IntVal == 0 {
				tp = intstr.FromInt32(sp.Port)
			}
			for _, w := range selects(labelsSelector(s.Spec.Selector), workloads) {
				c := w.runs(program)
				if c == nil {
					continue
				}
				if _, lp, err := splitHostPort(c.addrs[listener]); err == nil && w.containerPort(tp) == lp {
					return ""
				}
			}
			return fmt.Sprintf("Service %s port %d does not reach the %s %s listener", s.Name, port, program, listener)
		}
		return fmt.Sprintf("Service %s has no port %d", s.Name, port)
	}
	return fmt.Sprintf("no Service %s", labels[0])
}

func labelsSelector(set map[string]string) labels.Selector {
	if len(set) == 0 {
		return labels.Nothing()
	}
	return labels.SelectorFromSet(set)
}

// checkPublicEdgeURL: the URL customers get is an ingress host routed to the
// edges, https when the ingress terminates TLS for it.
func checkPublicEdgeURL(v string, m *manifests, workloads []*workload) string {
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		return "not an absolute URL"
	}
	services := map[string]*corev1.Service{}
	for _, s := range m.services {
		services[s.Name] = s
	}
	for _, in := range m.ingresses {
		tls := false
		for _, t := range in.Spec.TLS {
			tls = tls || contains(t.Hosts, u.Hostname())
		}
		for _, r := range in.Spec.Rules {
			if r.Host != u.Hostname() || r.HTTP == nil {
				continue
			}
			for _, p := range r.HTTP.Paths {
				s := services[p.Backend.Service.Name]
				if s == nil {
					continue
				}
				for _, w := range selects(labelsSelector(s.Spec.Selector), workloads) {
					if w.runs("edge") != nil {
						if tls && u.Scheme != "https" {
							return "the ingress terminates TLS for this host: use https"
						}
						return ""
					}
				}
			}
			return "the ingress rule for this host does not lead to the edges"
		}
	}
	return "no ingress rule serves this host"
}

func boolOr(a, b *bool) bool {
	if a != nil {
		return *a
	}
	return b != nil && *b
}

func int64Or(a, b *int64) *int64 {
	if a != nil {
		return a
	}
	return b
}

func containsCap(list []corev1.Capability, c corev1.Capability) bool {
	for _, v := range list {
		if v == c {
			return true
		}
	}
	return false
}

// checkKustomizationFiles decodes a kustomization.yaml strictly and checks
// that every local file or directory it lists exists.
func checkKustomizationFiles(dir string) problems {
	var ps problems
	p := filepath.Join(dir, "kustomization.yaml")
	data, err := os.ReadFile(p)
	if err != nil {
		return append(ps, err.Error())
	}
	var k kusttypes.Kustomization
	if err := sigsyaml.UnmarshalStrict(data, &k); err != nil {
		return append(ps, fmt.Sprintf("%s: %v", p, err))
	}
	var paths []string
	paths = append(paths, k.Resources...)
	paths = append(paths, k.Components...)
	paths = append(paths, k.Crds...)
	for _, patch := range k.Patches {
		if patch.Path != "" {
			paths = append(paths, patch.Path)
		}
	}
	gen := func(a kusttypes.GeneratorArgs) {
		for _, f := range a.FileSources {
			if _, after, ok := strings.Cut(f, "="); ok {
				f = after
			}
			paths = append(paths, f)
		}
		paths = append(paths, a.EnvSources...)
		if a.EnvSource != "" {
			paths = append(paths, a.EnvSource)
		}
	}
	for _, g := range k.ConfigMapGenerator {
		gen(g.GeneratorArgs)
	}
	for _, g := range k.SecretGenerator {
		gen(g.GeneratorArgs)
	}
	for _, rel := range paths {
		if strings.Contains(rel, "://") || strings.HasPrefix(rel, "github.com/") {
			ps.addf("%s: remote resource %s: the deploy files must be self-contained", p, rel)
			continue
		}
		full := filepath.Join(dir, rel)
		switch {
		case fileExists(full):
		case dirExists(full) && fileExists(filepath.Join(full, "kustomization.yaml")):
		default:
			ps.addf("%s: lists %s, which is neither a file nor a directory with a kustomization.yaml", p, rel)
		}
	}
	return ps
}

// Package kubernetes_test checks the shipped manifests: they parse, carry the fields the daemon needs,
// agree with each other (labels, ports, volumes, secrets) and with the daemon's defaults, the
// ConfigMap's configuration loads with pkg/config, and the PrometheusRule's groups are exactly those
// of deploy/prometheus/sqldr-rules.yml. `go test ./deploy/kubernetes -run PrometheusRule -update`
// regenerates prometheusrule.yaml from the rules file.
package kubernetes_test

import (
	"bytes"
	"flag"
	"net"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sqldr/sqldr/pkg/config"
)

var update = flag.Bool("update", false, "regenerate prometheusrule.yaml from deploy/prometheus/sqldr-rules.yml")

const (
	rulesFile     = "../prometheus/sqldr-rules.yml"
	ruleManifest  = "prometheusrule.yaml"
	namespace     = "sqldr"
	jobName       = "sqldr" // the job label the rules expect (up{job="sqldr"})
	configMapKey  = "sqldr.yml"
	secretExample = "secret.example.yaml"
)

type meta struct {
	Name      string            `yaml:"name"`
	Namespace string            `yaml:"namespace"`
	Labels    map[string]string `yaml:"labels"`
}

type header struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   meta   `yaml:"metadata"`
}

type probe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

type container struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Env   []struct {
		Name      string `yaml:"name"`
		ValueFrom struct {
			SecretKeyRef struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	LivenessProbe   *probe `yaml:"livenessProbe"`
	ReadinessProbe  *probe `yaml:"readinessProbe"`
	SecurityContext struct {
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   bool  `yaml:"readOnlyRootFilesystem"`
	} `yaml:"securityContext"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
}

type deployment struct {
	header `yaml:",inline"`
	Spec   struct {
		Replicas *int `yaml:"replicas"`
		Strategy struct {
			Type string `yaml:"type"`
		} `yaml:"strategy"`
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata meta `yaml:"metadata"`
			Spec     struct {
				TerminationGracePeriodSeconds int `yaml:"terminationGracePeriodSeconds"`
				SecurityContext               struct {
					RunAsNonRoot bool `yaml:"runAsNonRoot"`
				} `yaml:"securityContext"`
				Containers []container `yaml:"containers"`
				Volumes    []struct {
					Name      string `yaml:"name"`
					ConfigMap *struct {
						Name string `yaml:"name"`
					} `yaml:"configMap"`
					Secret *struct {
						SecretName string `yaml:"secretName"`
					} `yaml:"secret"`
					PersistentVolumeClaim *struct {
						ClaimName string `yaml:"claimName"`
					} `yaml:"persistentVolumeClaim"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type configMap struct {
	header `yaml:",inline"`
	Data   map[string]string `yaml:"data"`
}

type pvc struct {
	header `yaml:",inline"`
	Spec   struct {
		AccessModes []string `yaml:"accessModes"`
	} `yaml:"spec"`
}

type service struct {
	header `yaml:",inline"`
	Spec   struct {
		Selector map[string]string `yaml:"selector"`
		Ports    []struct {
			Name       string `yaml:"name"`
			Port       int    `yaml:"port"`
			TargetPort any    `yaml:"targetPort"`
		} `yaml:"ports"`
	} `yaml:"spec"`
}

type serviceMonitor struct {
	header `yaml:",inline"`
	Spec   struct {
		JobLabel string `yaml:"jobLabel"`
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Endpoints []struct {
			Port string `yaml:"port"`
			Path string `yaml:"path"`
		} `yaml:"endpoints"`
	} `yaml:"spec"`
}

type secretDoc struct {
	header     `yaml:",inline"`
	StringData map[string]string `yaml:"stringData"`
}

func load(t *testing.T, file string, into any) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, into); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

// manifests are the parsed files of kustomization.yaml.
type manifests struct {
	deploy  deployment
	cm      configMap
	pvc     pvc
	svc     service
	sm      serviceMonitor
	cfg     *config.Config
	secrets map[string]secretDoc
}

func loadAll(t *testing.T) manifests {
	t.Helper()
	var m manifests
	load(t, "deployment.yaml", &m.deploy)
	load(t, "configmap.yaml", &m.cm)
	load(t, "pvc.yaml", &m.pvc)
	load(t, "service.yaml", &m.svc)
	load(t, "servicemonitor.yaml", &m.sm)
	cfgText, ok := m.cm.Data[configMapKey]
	if !ok {
		t.Fatalf("ConfigMap %s has no key %s", m.cm.Metadata.Name, configMapKey)
	}
	cfg, err := config.Parse([]byte(cfgText))
	if err != nil {
		t.Fatalf("the ConfigMap's configuration does not load with pkg/config:\n%v", err)
	}
	m.cfg = cfg
	m.secrets = map[string]secretDoc{}
	data, err := os.ReadFile(secretExample)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var s secretDoc
		if err := dec.Decode(&s); err != nil {
			break
		}
		m.secrets[s.Metadata.Name] = s
	}
	return m
}

func TestKustomizationListsEveryManifest(t *testing.T) {
	var k struct {
		Resources []string `yaml:"resources"`
	}
	load(t, "kustomization.yaml", &k)
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range files {
		if f != "kustomization.yaml" && f != secretExample {
			want = append(want, f)
		}
	}
	got := slices.Sorted(slices.Values(k.Resources))
	if !slices.Equal(got, want) {
		t.Fatalf("kustomization resources %v, want every manifest but the secret example: %v", got, want)
	}
	if slices.Contains(k.Resources, secretExample) {
		t.Fatal("the secret example must not be applied")
	}
}

func TestManifestKindsAndNamespace(t *testing.T) {
	m := loadAll(t)
	for _, h := range []struct {
		h          header
		api, kind  string
		wantLabels bool
	}{
		{m.deploy.header, "apps/v1", "Deployment", true},
		{m.cm.header, "v1", "ConfigMap", true},
		{m.pvc.header, "v1", "PersistentVolumeClaim", true},
		{m.svc.header, "v1", "Service", true},
		{m.sm.header, "monitoring.coreos.com/v1", "ServiceMonitor", true},
	} {
		if h.h.APIVersion != h.api || h.h.Kind != h.kind {
			t.Errorf("%s: apiVersion %q kind %q, want %s %s", h.h.Metadata.Name, h.h.APIVersion, h.h.Kind, h.api, h.kind)
		}
		if h.h.Metadata.Namespace != namespace || h.h.Metadata.Name == "" {
			t.Errorf("%s %q: namespace %q, want %s", h.kind, h.h.Metadata.Name, h.h.Metadata.Namespace, namespace)
		}
	}
}

func TestDeployment(t *testing.T) {
	m := loadAll(t)
	d := m.deploy
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
		t.Errorf("replicas %v, want exactly 1 (one controller per failover group)", d.Spec.Replicas)
	}
	if d.Spec.Strategy.Type != "Recreate" {
		t.Errorf("strategy %q, want Recreate (two pods must never share the state directory)", d.Spec.Strategy.Type)
	}
	for k, v := range d.Spec.Selector.MatchLabels {
		if d.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("selector %s=%s does not match the pod template's labels", k, v)
		}
	}
	ps := d.Spec.Template.Spec
	if !ps.SecurityContext.RunAsNonRoot {
		t.Error("pod securityContext.runAsNonRoot is not true")
	}
	longest := time.Duration(0)
	for _, s := range config.DefaultStepTimeouts {
		longest = max(longest, s)
	}
	if grace := time.Duration(ps.TerminationGracePeriodSeconds) * time.Second; grace <= longest {
		t.Errorf("terminationGracePeriodSeconds %s does not cover the longest runbook step (%s)", grace, longest)
	}
	if len(ps.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(ps.Containers))
	}
	c := ps.Containers[0]
	if c.SecurityContext.AllowPrivilegeEscalation == nil || *c.SecurityContext.AllowPrivilegeEscalation || !c.SecurityContext.ReadOnlyRootFilesystem {
		t.Error("container must set allowPrivilegeEscalation: false and readOnlyRootFilesystem: true")
	}

	// The command runs the daemon on the mounted ConfigMap.
	if len(c.Args) != 3 || c.Args[0] != "run" || c.Args[1] != "--config" {
		t.Fatalf("args %v, want [run --config FILE]", c.Args)
	}
	volumes := map[string]int{}
	for i, v := range ps.Volumes {
		volumes[v.Name] = i
	}
	mountOf := func(file string) (name string, readOnly bool, ok bool) {
		best := ""
		for _, vm := range c.VolumeMounts {
			if strings.HasPrefix(file, strings.TrimSuffix(vm.MountPath, "/")+"/") && len(vm.MountPath) > len(best) {
				best, name, readOnly, ok = vm.MountPath, vm.Name, vm.ReadOnly, true
			}
		}
		return name, readOnly, ok
	}
	cfgVol, cfgRO, ok := mountOf(c.Args[2])
	switch {
	case !ok:
		t.Errorf("--config %s is on no volume", c.Args[2])
	case ps.Volumes[volumes[cfgVol]].ConfigMap == nil || ps.Volumes[volumes[cfgVol]].ConfigMap.Name != m.cm.Metadata.Name:
		t.Errorf("--config %s is not on the ConfigMap %s", c.Args[2], m.cm.Metadata.Name)
	case path.Base(c.Args[2]) != configMapKey || !cfgRO:
		t.Errorf("--config %s must be the read-only key %s", c.Args[2], configMapKey)
	}

	// The state directory is the PVC, writable.
	var stateMount string
	for _, vm := range c.VolumeMounts {
		if vm.MountPath == m.cfg.StateDir {
			stateMount = vm.Name
			if vm.ReadOnly {
				t.Error("the state directory is mounted read-only")
			}
		}
	}
	if stateMount == "" {
		t.Fatalf("no volume is mounted at state_dir %s", m.cfg.StateDir)
	}
	if v := ps.Volumes[volumes[stateMount]]; v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != m.pvc.Metadata.Name {
		t.Errorf("state_dir %s is not the PersistentVolumeClaim %s", m.cfg.StateDir, m.pvc.Metadata.Name)
	}
	if !slices.Contains(m.pvc.Spec.AccessModes, "ReadWriteOnce") {
		t.Errorf("PVC access modes %v, want ReadWriteOnce", m.pvc.Spec.AccessModes)
	}

	// Every dsn_env is set from a Secret key that the example Secret defines; no DSN is a literal.
	env := map[string]int{}
	for i, e := range c.Env {
		env[e.Name] = i
	}
	for _, in := range m.cfg.Instances {
		if in.DSNEnv == "" {
			if _, ro, ok := mountOf(in.DSNFile); !ok || !ro {
				t.Errorf("instance %s: dsn_file %s is not on a read-only mounted volume", in.Name, in.DSNFile)
			}
			continue
		}
		i, ok := env[in.DSNEnv]
		if !ok {
			t.Errorf("instance %s: %s is not in the container's env", in.Name, in.DSNEnv)
			continue
		}
		ref := c.Env[i].ValueFrom.SecretKeyRef
		if ref.Name == "" || ref.Key == "" {
			t.Errorf("%s does not come from a secretKeyRef", in.DSNEnv)
			continue
		}
		if _, ok := m.secrets[ref.Name].StringData[ref.Key]; !ok {
			t.Errorf("%s refers to %s/%s, which %s does not show", in.DSNEnv, ref.Name, ref.Key, secretExample)
		}
	}
	// Observer files are on read-only Secret volumes whose example has the key.
	for _, o := range m.cfg.Observers.Endpoints {
		for _, f := range []string{o.TokenFile, o.CAFile} {
			if f == "" {
				continue
			}
			vol, ro, ok := mountOf(f)
			if !ok || !ro {
				t.Errorf("observer %s: %s is not on a read-only volume", o.Name, f)
				continue
			}
			sec := ps.Volumes[volumes[vol]].Secret
			if sec == nil {
				t.Errorf("observer %s: %s is not on a Secret volume", o.Name, f)
				continue
			}
			if _, ok := m.secrets[sec.SecretName].StringData[path.Base(f)]; !ok {
				t.Errorf("observer %s: Secret %s (per %s) has no key %s", o.Name, sec.SecretName, secretExample, path.Base(f))
			}
		}
	}

	// Probes and port: the daemon's HTTP port, /healthz and /readyz.
	_, cfgPort, err := net.SplitHostPort(m.cfg.HTTP.Listen)
	if err != nil {
		t.Fatal(err)
	}
	_, defPort, _ := net.SplitHostPort(config.DefaultListen)
	if cfgPort != defPort {
		t.Errorf("http.listen port %s differs from the daemon's default %s", cfgPort, defPort)
	}
	if host, _, _ := net.SplitHostPort(m.cfg.HTTP.Listen); host == "127.0.0.1" || host == "localhost" {
		t.Errorf("http.listen %s is loopback: kubelet probes and Prometheus could not reach it", m.cfg.HTTP.Listen)
	}
	port, _ := strconv.Atoi(cfgPort)
	portName := ""
	for _, p := range c.Ports {
		if p.ContainerPort == port {
			portName = p.Name
		}
	}
	if portName == "" {
		t.Fatalf("no containerPort %d", port)
	}
	for name, p := range map[string]struct {
		pr   *probe
		path string
	}{"liveness": {c.LivenessProbe, "/healthz"}, "readiness": {c.ReadinessProbe, "/readyz"}} {
		if p.pr == nil {
			t.Errorf("%s probe missing", name)
			continue
		}
		if p.pr.HTTPGet.Path != p.path || (p.pr.HTTPGet.Port != portName && p.pr.HTTPGet.Port != port) {
			t.Errorf("%s probe %s on %v, want %s on %s/%d", name, p.pr.HTTPGet.Path, p.pr.HTTPGet.Port, p.path, portName, port)
		}
	}

	// Service → pods, ServiceMonitor → Service, job label = "sqldr".
	for k, v := range m.svc.Spec.Selector {
		if d.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("Service selector %s=%s does not select the pods", k, v)
		}
	}
	svcPort := ""
	for _, p := range m.svc.Spec.Ports {
		if p.TargetPort == portName || p.TargetPort == port {
			svcPort = p.Name
		}
	}
	if svcPort == "" {
		t.Fatalf("the Service has no port targeting %s", portName)
	}
	for k, v := range m.sm.Spec.Selector.MatchLabels {
		if m.svc.Metadata.Labels[k] != v {
			t.Errorf("ServiceMonitor selector %s=%s does not select the Service", k, v)
		}
	}
	if len(m.sm.Spec.Endpoints) != 1 || m.sm.Spec.Endpoints[0].Port != svcPort || m.sm.Spec.Endpoints[0].Path != "/metrics" {
		t.Errorf("ServiceMonitor endpoints %+v, want port %s path /metrics", m.sm.Spec.Endpoints, svcPort)
	}
	job := m.svc.Metadata.Name
	if m.sm.Spec.JobLabel != "" {
		job = m.svc.Metadata.Labels[m.sm.Spec.JobLabel]
	}
	if job != jobName {
		t.Errorf("Prometheus job label would be %q; the rules expect job=%q", job, jobName)
	}
}

// generateRule builds prometheusrule.yaml from the rules file, keeping its comments.
func generateRule(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	root := doc.Content[0]
	var groups *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "groups" {
			groups = root.Content[i+1]
		}
	}
	if groups == nil {
		t.Fatalf("%s has no groups", rulesFile)
	}
	str := func(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }
	mapping := func(kv ...*yaml.Node) *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode, Content: kv} }
	out := mapping(
		str("apiVersion"), str("monitoring.coreos.com/v1"),
		str("kind"), str("PrometheusRule"),
		str("metadata"), mapping(
			str("name"), str("sqldr-rules"),
			str("namespace"), str(namespace),
			str("labels"), mapping(
				str("app.kubernetes.io/name"), str("sqldr"),
				str("app.kubernetes.io/component"), str("controller"))),
		str("spec"), mapping(str("groups"), groups),
	)
	var buf bytes.Buffer
	buf.WriteString("# GENERATED from deploy/prometheus/sqldr-rules.yml by\n" +
		"#   go test ./deploy/kubernetes -run PrometheusRule -update\n" +
		"# Do not edit: change the rules file (and its promtool tests) and regenerate.\n" +
		"# Add the label your Prometheus selects rules by (often `release: <helm release>`).\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(out); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestPrometheusRuleMatchesRulesFile(t *testing.T) {
	gen := generateRule(t)
	if *update {
		if err := os.WriteFile(ruleManifest, gen, 0o644); err != nil { //nolint:gosec // a manifest in the repository
			t.Fatal(err)
		}
	}
	var rules struct {
		Groups []any `yaml:"groups"`
	}
	load(t, rulesFile, &rules)
	var pr struct {
		header `yaml:",inline"`
		Spec   struct {
			Groups []any `yaml:"groups"`
		} `yaml:"spec"`
	}
	load(t, ruleManifest, &pr)
	if pr.APIVersion != "monitoring.coreos.com/v1" || pr.Kind != "PrometheusRule" || pr.Metadata.Namespace != namespace {
		t.Errorf("%s: %s %s in %q", ruleManifest, pr.APIVersion, pr.Kind, pr.Metadata.Namespace)
	}
	if len(rules.Groups) == 0 {
		t.Fatalf("%s has no groups", rulesFile)
	}
	if !reflect.DeepEqual(pr.Spec.Groups, rules.Groups) {
		t.Fatalf("%s's groups differ from %s; run: go test ./deploy/kubernetes -run PrometheusRule -update", ruleManifest, rulesFile)
	}
	onDisk, err := os.ReadFile(ruleManifest)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(onDisk, gen) {
		t.Fatalf("%s is not what the generator writes; run: go test ./deploy/kubernetes -run PrometheusRule -update", ruleManifest)
	}
}

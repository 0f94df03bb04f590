// Package deploy holds what runs bouncehouse outside the binary: the docker-compose stack's
// configuration, ClickHouse users and the traffic generator. Its tests validate the stack
// without a Docker engine.
package deploy

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

var root = filepath.Join("..")

func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root), cli.WithName("bouncehouse"), cli.WithResolvedPaths(true))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	return p
}

// TestComposeLoads validates docker-compose.yml against the Compose specification (schema,
// interpolation, dependencies) and checks that it brings up the whole stack.
func TestComposeLoads(t *testing.T) {
	p := loadCompose(t)
	names := p.ServiceNames()
	slices.Sort(names)
	want := []string{"bouncehouse", "clickhouse", "generator", "grafana", "kafka", "loki", "migrate"}
	if !slices.Equal(names, want) {
		t.Errorf("services %v, want %v", names, want)
	}
	run := p.Services["bouncehouse"]
	if c := run.DependsOn["migrate"].Condition; c != types.ServiceConditionCompletedSuccessfully {
		t.Errorf("bouncehouse starts on migrate %q, want after it completes", c)
	}
	if run.DependsOn["kafka"].Condition != types.ServiceConditionHealthy {
		t.Error("bouncehouse does not wait for a healthy Kafka")
	}
	if p.Services["migrate"].DependsOn["clickhouse"].Condition != types.ServiceConditionHealthy {
		t.Error("migrate does not wait for a healthy ClickHouse")
	}
	if got := p.Services["migrate"].Command; !slices.Equal(got, types.ShellCommand{"migrate"}) {
		t.Errorf("migrate runs %v", got)
	}
	kafka := p.Services["kafka"]
	if kraft := kafka.Environment["KAFKA_PROCESS_ROLES"]; kraft == nil || *kraft != "broker,controller" {
		t.Error("Kafka is not a single KRaft node")
	}
	// The image keeps its log in /tmp unless told: the volume must hold the log directory.
	logs := kafka.Environment["KAFKA_LOG_DIRS"]
	if logs == nil || !slices.ContainsFunc(kafka.Volumes, func(v types.ServiceVolumeConfig) bool { return v.Target == *logs }) {
		t.Errorf("Kafka's log directory %v is not on a volume", logs)
	}
}

var pinned = regexp.MustCompile(`^[a-z0-9./-]+:[0-9]+(\.[0-9]+)+(-[a-z0-9.]+)?$`)

// TestImagesArePinned: every image names a released version, never latest or a moving
// major.minor line; built services build from the project's Dockerfile.
func TestImagesArePinned(t *testing.T) {
	p := loadCompose(t)
	for name, s := range p.Services {
		switch {
		case s.Build != nil:
			if _, err := os.Stat(filepath.Join(s.Build.Context, "Dockerfile")); err != nil {
				t.Errorf("%s builds from %s: %v", name, s.Build.Context, err)
			}
		case !pinned.MatchString(s.Image) || strings.Count(strings.SplitN(s.Image, ":", 2)[1], ".") < 2:
			t.Errorf("%s: image %q is not pinned to a released x.y.z tag", name, s.Image)
		}
	}
	docker, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(docker), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "FROM" && (strings.HasSuffix(f[1], ":latest") || !strings.Contains(f[1], ":")) {
			t.Errorf("Dockerfile: %s", line)
		}
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "COPY" && !strings.HasPrefix(f[1], "--") && f[1] != "." {
			for _, src := range f[1 : len(f)-1] {
				if _, err := os.Stat(filepath.Join(root, src)); err != nil {
					t.Errorf("Dockerfile copies %s: %v", src, err)
				}
			}
		}
	}
}

// TestMountsExist: every file or directory the stack mounts from the repository exists, and
// Grafana mounts the provisioning tree that `bouncehouse grafana` writes.
func TestMountsExist(t *testing.T) {
	p := loadCompose(t)
	for name, s := range p.Services {
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("%s mounts %s: %v", name, v.Source, err)
			}
		}
	}
	g := p.Services["grafana"]
	i := slices.IndexFunc(g.Volumes, func(v types.ServiceVolumeConfig) bool { return v.Target == "/etc/grafana/provisioning" })
	if i < 0 || !strings.HasSuffix(filepath.ToSlash(g.Volumes[i].Source), "dashboards/provisioning") {
		t.Errorf("grafana does not mount dashboards/provisioning on /etc/grafana/provisioning: %+v", g.Volumes)
	}
	for _, env := range []string{"BOUNCEHOUSE_GRAFANA_CLICKHOUSE_PASSWORD", "BOUNCEHOUSE_ALERT_WEBHOOK_URL"} {
		if g.Environment[env] == nil {
			t.Errorf("grafana lacks %s, which the provisioning reads", env)
		}
	}
	plugins := g.Environment["GF_PLUGINS_PREINSTALL_SYNC"]
	if plugins == nil || !strings.Contains(*plugins, "grafana-clickhouse-datasource@") {
		t.Error("grafana does not install a pinned grafana-clickhouse-datasource")
	}
}

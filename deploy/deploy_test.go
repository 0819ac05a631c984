package deploy_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The process contract (API.md "Processes", /Procfile).
var (
	subcommands = []string{"migrate", "web", "worker", "scheduler", "all"}
	// reconciler service in the compose file -> its subcommand.
	reconcilerServices = map[string]string{
		"release":   "migrate",
		"web":       "web",
		"worker":    "worker",
		"scheduler": "scheduler",
	}
	longRunning = []string{"web", "worker", "scheduler"}
)

const (
	composeFile    = "docker-compose.yml"
	dockerfilePath = "Dockerfile"
	binaryPath     = "/usr/local/bin/reconciler"
)

// testEnv is what the compose file is interpolated with: the variables it
// requires, set as an operator would.
var testEnv = map[string]string{
	"ADMIN_TOKEN":           "test-admin-token",
	"STRIPE_WEBHOOK_SECRET": "whsec_test",
}

// ---------------------------------------------------------------------------
// docker-compose.yml

type composeFileT struct {
	Services map[string]service `yaml:"services"`
	Configs  map[string]struct {
		Content string `yaml:"content"`
		File    string `yaml:"file"`
	} `yaml:"configs"`
}

type service struct {
	Image       string     `yaml:"image"`
	Build       *build     `yaml:"build"`
	Command     stringList `yaml:"command"`
	Environment envMap     `yaml:"environment"`
	DependsOn   dependsOn  `yaml:"depends_on"`
	Deploy      struct {
		Replicas *int `yaml:"replicas"`
	} `yaml:"deploy"`
	Healthcheck *struct {
		Test any `yaml:"test"`
	} `yaml:"healthcheck"`
	Ports   []any  `yaml:"ports"`
	Restart string `yaml:"restart"`
	Configs []struct {
		Source string `yaml:"source"`
		Target string `yaml:"target"`
	} `yaml:"configs"`
}

func (s service) replicas() int {
	if s.Deploy.Replicas == nil {
		return 1
	}
	return *s.Deploy.Replicas
}

// build is the short form (a context path) or the long one.
type build struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
}

func (b *build) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		b.Context = n.Value
		return nil
	}
	type plain build
	return n.Decode((*plain)(b))
}

// stringList is a command in exec form, or a string compose splits on spaces.
type stringList []string

func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = strings.Fields(n.Value)
		return nil
	}
	var xs []string
	if err := n.Decode(&xs); err != nil {
		return err
	}
	*l = xs
	return nil
}

// envMap is environment as a mapping (merge keys included) or as a list of
// KEY=VALUE.
type envMap map[string]string

func (e *envMap) UnmarshalYAML(n *yaml.Node) error {
	out := envMap{}
	if n.Kind == yaml.SequenceNode {
		var xs []string
		if err := n.Decode(&xs); err != nil {
			return err
		}
		for _, x := range xs {
			k, v, _ := strings.Cut(x, "=")
			out[k] = v
		}
		*e = out
		return nil
	}
	var m map[string]any
	if err := n.Decode(&m); err != nil {
		return err
	}
	for k, v := range m {
		if v != nil {
			out[k] = fmt.Sprint(v)
		} else {
			out[k] = ""
		}
	}
	*e = out
	return nil
}

// dependsOn is depends_on as a list (condition service_started) or a mapping.
type dependsOn map[string]string

func (d *dependsOn) UnmarshalYAML(n *yaml.Node) error {
	out := dependsOn{}
	if n.Kind == yaml.SequenceNode {
		var xs []string
		if err := n.Decode(&xs); err != nil {
			return err
		}
		for _, x := range xs {
			out[x] = "service_started"
		}
		*d = out
		return nil
	}
	var m map[string]struct {
		Condition string `yaml:"condition"`
	}
	if err := n.Decode(&m); err != nil {
		return err
	}
	for k, v := range m {
		if v.Condition == "" {
			v.Condition = "service_started"
		}
		out[k] = v.Condition
	}
	*d = out
	return nil
}

func readCompose(t *testing.T) composeFileT {
	t.Helper()
	raw, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	var c composeFileT
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatalf("%s: %v", composeFile, err)
	}
	return c
}

var interpolation = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// interpolate expands ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err},
// ${VAR?err}, $VAR and $$ as compose does, one level deep.
func interpolate(s string, env map[string]string) (string, error) {
	var firstErr error
	out := interpolation.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		g := interpolation.FindStringSubmatch(m)
		name, op, arg := g[1], g[2], g[3]
		if name == "" {
			name = g[4]
		}
		v, set := env[name]
		switch op {
		case ":-":
			if v == "" {
				return arg
			}
		case "-":
			if !set {
				return arg
			}
		case ":?":
			if v == "" && firstErr == nil {
				firstErr = fmt.Errorf("required variable %s is missing: %s", name, arg)
			}
		case "?":
			if !set && firstErr == nil {
				firstErr = fmt.Errorf("required variable %s is missing: %s", name, arg)
			}
		}
		return v
	})
	return out, firstErr
}

func TestComposeHasNoVersionKey(t *testing.T) {
	raw, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]any
	if err := yaml.Unmarshal(raw, &top); err != nil {
		t.Fatal(err)
	}
	if _, ok := top["version"]; ok {
		t.Error("compose file has a version: key; the compose spec has none")
	}
}

func TestComposeServices(t *testing.T) {
	c := readCompose(t)
	for _, name := range []string{"postgres", "redis", "release", "web", "worker", "scheduler", "lb"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("no service %q", name)
		}
	}
}

func TestComposeReconcilerServices(t *testing.T) {
	c := readCompose(t)
	var image string
	for name, sub := range reconcilerServices {
		t.Run(name, func(t *testing.T) {
			s, ok := c.Services[name]
			if !ok {
				t.Fatalf("no service %q", name)
			}
			if len(s.Command) != 1 || !slices.Contains(subcommands, s.Command[0]) {
				t.Errorf("command = %q, want one of the subcommands %q", s.Command, subcommands)
			} else if s.Command[0] != sub {
				t.Errorf("command = %q, want [%q]", s.Command, sub)
			}
			for _, v := range []string{"DATABASE_URL", "REDIS_URL"} {
				if s.Environment[v] == "" {
					t.Errorf("environment has no %s", v)
				}
			}

			if s.Build == nil {
				t.Fatal("no build: the image is not built from deploy/Dockerfile")
			}
			// Paths in a compose file are relative to the file's directory;
			// the dockerfile is relative to the context.
			ctx, err := filepath.Abs(s.Build.Context)
			if err != nil {
				t.Fatal(err)
			}
			root, err := filepath.Abs("..")
			if err != nil {
				t.Fatal(err)
			}
			if ctx != root {
				t.Errorf("build context = %q (%s), want the repository root %s", s.Build.Context, ctx, root)
			}
			want, _ := filepath.Abs(dockerfilePath)
			if got := filepath.Join(ctx, s.Build.Dockerfile); s.Build.Dockerfile == "" || got != want {
				t.Errorf("build dockerfile = %q (%s), want %s", s.Build.Dockerfile, got, want)
			}
			if image == "" {
				image = s.Image
			} else if s.Image != image {
				t.Errorf("image = %q, others use %q: one image for every process", s.Image, image)
			}
		})
	}
}

func TestComposeReplicas(t *testing.T) {
	c := readCompose(t)
	for _, name := range longRunning {
		if got := c.Services[name].replicas(); got != 2 {
			t.Errorf("%s: replicas = %d, want 2", name, got)
		}
	}
}

func TestComposeReleaseRunsMigrateOnce(t *testing.T) {
	s := readCompose(t).Services["release"]
	if !slices.Equal(s.Command, []string{"migrate"}) {
		t.Errorf("release command = %q, want [migrate]", s.Command)
	}
	if s.Restart != "no" {
		t.Errorf(`release restart = %q, want "no": a one-off that exits 0`, s.Restart)
	}
	if s.replicas() != 1 {
		t.Errorf("release replicas = %d, want 1", s.replicas())
	}
	if got := s.DependsOn["postgres"]; got != "service_healthy" {
		t.Errorf("release depends on postgres with %q, want service_healthy", got)
	}
}

func TestComposeStartOrder(t *testing.T) {
	c := readCompose(t)
	for _, name := range longRunning {
		d := c.Services[name].DependsOn
		if got := d["release"]; got != "service_completed_successfully" {
			t.Errorf("%s depends on release with %q, want service_completed_successfully", name, got)
		}
		if got := d["redis"]; got != "service_healthy" {
			t.Errorf("%s depends on redis with %q, want service_healthy", name, got)
		}
	}
	for _, name := range []string{"postgres", "redis"} {
		if hc := c.Services[name].Healthcheck; hc == nil || hc.Test == nil {
			t.Errorf("%s has no healthcheck; service_healthy would never hold", name)
		}
	}
}

// The URLs point at the compose services, and each process keeps its own
// connection budget: pool_max_conns belongs on web only.
func TestComposeURLs(t *testing.T) {
	c := readCompose(t)
	pg := c.Services["postgres"]
	db := pg.Environment["POSTGRES_DB"]
	if db == "" {
		db = pg.Environment["POSTGRES_USER"]
	}
	if db == "" {
		db = "postgres"
	}
	for name := range reconcilerServices {
		s := c.Services[name]
		dbURL, err := interpolate(s.Environment["DATABASE_URL"], testEnv)
		if err != nil {
			t.Fatalf("%s DATABASE_URL: %v", name, err)
		}
		u, err := url.Parse(dbURL)
		if err != nil {
			t.Fatalf("%s DATABASE_URL: %v", name, err)
		}
		if u.Scheme != "postgres" && u.Scheme != "postgresql" || u.Hostname() != "postgres" || strings.TrimPrefix(u.Path, "/") != db {
			t.Errorf("%s DATABASE_URL = %s, want postgres://...@postgres/%s", name, dbURL, db)
		}
		pw, _ := u.User.Password()
		wantPW, err := interpolate(pg.Environment["POSTGRES_PASSWORD"], testEnv)
		if err != nil {
			t.Fatal(err)
		}
		if pw != wantPW {
			t.Errorf("%s DATABASE_URL password %q, postgres has POSTGRES_PASSWORD %q", name, pw, wantPW)
		}
		if s.Command[0] == "migrate" || s.Command[0] == "all" {
			for k := range u.Query() {
				if strings.HasPrefix(k, "pool_") {
					t.Errorf("%s DATABASE_URL has %s: migrate connects with pgx.Connect, which sends it to PostgreSQL as a setting", name, k)
				}
			}
		}

		redisURL, err := interpolate(s.Environment["REDIS_URL"], testEnv)
		if err != nil {
			t.Fatalf("%s REDIS_URL: %v", name, err)
		}
		r, err := url.Parse(redisURL)
		if err != nil || r.Scheme != "redis" || r.Hostname() != "redis" {
			t.Errorf("%s REDIS_URL = %s, want redis://redis:6379/N", name, redisURL)
		}
	}
}

// Every reconciler process refuses to serve /admin and the webhook without
// its secrets; compose must refuse to start instead of starting them broken.
func TestComposeRequiresSecrets(t *testing.T) {
	c := readCompose(t)
	for _, name := range longRunning {
		env := c.Services[name].Environment
		for v := range testEnv {
			if !strings.Contains(env[v], "${"+v+":?") {
				t.Errorf("%s: %s = %q, want ${%s:?...} so compose refuses to start without it", name, v, env[v], v)
			}
		}
		for k, v := range env {
			if _, err := interpolate(v, testEnv); err != nil {
				t.Errorf("%s %s: %v", name, k, err)
			}
		}
	}
}

// The pools of every replica fit under PostgreSQL's max_connections with
// room for release, psql and monitoring. Per-process defaults mirror
// cmd/reconciler's poolSize.
func TestComposeConnectionBudget(t *testing.T) {
	c := readCompose(t)
	maxConns := 100
	cmd := c.Services["postgres"].Command
	for i, a := range cmd {
		v, ok := strings.CutPrefix(a, "max_connections=")
		if !ok {
			continue
		}
		if i == 0 || cmd[i-1] != "-c" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("postgres max_connections=%q", v)
		}
		maxConns = n
	}
	const headroom = 10 // release, psql, monitoring, superuser_reserved_connections
	total := 0
	for _, name := range longRunning {
		s := c.Services[name]
		dbURL, err := interpolate(s.Environment["DATABASE_URL"], testEnv)
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(dbURL)
		if err != nil {
			t.Fatal(err)
		}
		pool := 0
		if v := u.Query().Get("pool_max_conns"); v != "" {
			if pool, err = strconv.Atoi(v); err != nil {
				t.Fatalf("%s pool_max_conns=%q", name, v)
			}
		} else {
			switch s.Command[0] {
			case "web":
				pool = 10
			case "worker":
				conc := 10
				if v := s.Environment["WORKER_CONCURRENCY"]; v != "" {
					if conc, err = strconv.Atoi(v); err != nil {
						t.Fatalf("%s WORKER_CONCURRENCY=%q", name, v)
					}
				}
				pool = conc + 3 // + the notification dispatcher's LISTEN connection
			case "scheduler":
				pool = 2
			}
		}
		t.Logf("%s: %d x %d connections", name, s.replicas(), pool)
		total += s.replicas() * pool
	}
	t.Logf("total %d of max_connections %d", total, maxConns)
	if total+headroom > maxConns {
		t.Errorf("pools need %d connections + %d headroom, postgres allows %d", total, headroom, maxConns)
	}
}

// web replicas publish no host port (two cannot share one); lb does, and its
// nginx config reaches web and survives compose's $ interpolation.
func TestComposeLoadBalancer(t *testing.T) {
	c := readCompose(t)
	if p := c.Services["web"].Ports; len(p) > 0 {
		t.Errorf("web publishes ports %v; with replicas it must not, lb does", p)
	}
	lb := c.Services["lb"]
	if !slices.ContainsFunc(lb.Ports, func(p any) bool { return fmt.Sprint(p) == "8080:8080" }) {
		t.Errorf("lb ports = %v, want 8080:8080", lb.Ports)
	}
	if len(lb.Configs) != 1 {
		t.Fatalf("lb configs = %v, want the nginx config", lb.Configs)
	}
	cfg, ok := c.Configs[lb.Configs[0].Source]
	if !ok || cfg.Content == "" {
		t.Fatalf("no inline config %q", lb.Configs[0].Source)
	}
	if rest := strings.ReplaceAll(cfg.Content, "$$", ""); strings.Contains(rest, "$") {
		t.Error("nginx config has a lone $: compose would interpolate it; write $$")
	}
	content, err := interpolate(cfg.Content, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(content, "http://web:8080") {
		t.Error("nginx config does not proxy to http://web:8080")
	}
	if !strings.Contains(content, "resolver 127.0.0.11") {
		t.Error("nginx config resolves web once at start: replicas recreated later would be missed (want resolver 127.0.0.11)")
	}
}

// ---------------------------------------------------------------------------
// Dockerfile

type instruction struct {
	line int
	cmd  string // upper case
	args string
}

func readDockerfile(t *testing.T) []instruction {
	t.Helper()
	f, err := os.Open(dockerfilePath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []instruction
	var cur strings.Builder
	start := 0
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if s, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// stages splits the instructions at each FROM.
func stages(ins []instruction) [][]instruction {
	var out [][]instruction
	for _, in := range ins {
		if in.cmd == "FROM" {
			out = append(out, nil)
		}
		if len(out) > 0 {
			out[len(out)-1] = append(out[len(out)-1], in)
		}
	}
	return out
}

func execForm(t *testing.T, in instruction) []string {
	t.Helper()
	var xs []string
	if err := json.Unmarshal([]byte(in.args), &xs); err != nil {
		t.Fatalf("line %d: %s %s is not in exec (JSON) form: %v", in.line, in.cmd, in.args, err)
	}
	return xs
}

func TestDockerfile(t *testing.T) {
	ins := readDockerfile(t)
	st := stages(ins)
	if len(st) < 2 {
		t.Fatalf("%d FROM lines, want a multi-stage build (>= 2)", len(st))
	}
	final := st[len(st)-1]

	// The final stage runs as a non-root user.
	var user string
	for _, in := range final {
		if in.cmd == "USER" {
			user = in.args
		}
	}
	name, _, _ := strings.Cut(user, ":")
	if name == "" || name == "root" || name == "0" {
		t.Errorf("final stage USER = %q, want a non-root user", user)
	}

	// Exactly one go build, static, on one line (check.sh runs it).
	var builds []instruction
	for _, in := range ins {
		if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
			builds = append(builds, in)
		}
	}
	if len(builds) != 1 {
		t.Fatalf("%d RUN lines with go build, want 1", len(builds))
	}
	b := builds[0]
	if !regexp.MustCompile(`(^|\s)CGO_ENABLED=0\s`).MatchString(b.args) {
		t.Errorf("line %d: go build without CGO_ENABLED=0: %s", b.line, b.args)
	}
	if !strings.HasSuffix(b.args, " ./cmd/reconciler") {
		t.Errorf("line %d: go build does not build ./cmd/reconciler: %s", b.line, b.args)
	}
	m := regexp.MustCompile(`\s-o\s+(\S+)`).FindStringSubmatch(b.args)
	if m == nil {
		t.Fatalf("line %d: go build has no -o: %s", b.line, b.args)
	}
	built := m[1]

	// The final stage copies that binary to where ENTRYPOINT runs it.
	var copied, entry, cmd []string
	for _, in := range final {
		switch in.cmd {
		case "COPY":
			if strings.HasPrefix(in.args, "--from=") {
				copied = strings.Fields(in.args)
			}
		case "ENTRYPOINT":
			entry = execForm(t, in)
		case "CMD":
			cmd = execForm(t, in)
		}
	}
	if len(entry) != 1 || entry[0] != binaryPath {
		t.Errorf("ENTRYPOINT = %q, want [%q]", entry, binaryPath)
	}
	if n := len(copied); n < 3 || copied[n-2] != built || copied[n-1] != binaryPath {
		t.Errorf("final stage COPY = %q, want COPY --from=<build> %s %s", copied, built, binaryPath)
	}
	if len(cmd) != 1 || !slices.Contains(subcommands, cmd[0]) {
		t.Errorf("CMD = %q, want one subcommand of %q", cmd, subcommands)
	}
}

// The Go toolchain image follows go.mod's go directive.
func TestDockerfileGoVersion(t *testing.T) {
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	var arg string
	for _, in := range readDockerfile(t) {
		if v, ok := strings.CutPrefix(in.args, "GO_VERSION="); ok && in.cmd == "ARG" {
			arg = v
		}
	}
	if arg != string(m[1]) {
		t.Errorf("Dockerfile ARG GO_VERSION=%q, go.mod says go %s", arg, m[1])
	}
	first := stages(readDockerfile(t))[0][0]
	if !strings.HasPrefix(first.args, "golang:${GO_VERSION}") {
		t.Errorf("first FROM = %q, want golang:${GO_VERSION}-...", first.args)
	}
}

// ---------------------------------------------------------------------------
// Procfile

func TestProcfile(t *testing.T) {
	raw, err := os.ReadFile("../Procfile")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, cmd, ok := strings.Cut(line, ":")
		if !ok {
			t.Errorf("Procfile line %q is not name: command", line)
			continue
		}
		got[strings.TrimSpace(name)] = strings.Join(strings.Fields(cmd), " ")
	}
	c := readCompose(t)
	for name, sub := range reconcilerServices {
		want := "reconciler " + sub
		if got[name] != want {
			t.Errorf("Procfile %s: %q, want %q", name, got[name], want)
		}
		// The compose service of the same name runs the same thing.
		if s, ok := c.Services[name]; ok && len(s.Command) > 0 {
			if cmd := "reconciler " + strings.Join(s.Command, " "); cmd != got[name] {
				t.Errorf("compose %s runs %q, Procfile %s runs %q", name, cmd, name, got[name])
			}
		}
	}
}

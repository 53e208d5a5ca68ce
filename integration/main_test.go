package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"go.uber.org/goleak"
)

// The images every test of a run uses, built once in TestMain. Their tags are unique to the run
// (two runs at once, e.g. from two checkouts, never test each other's binaries) and the images are
// removed at the end (Docker's layer cache keeps the next build fast).
var (
	runTag = fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano()%1e9)
	// productImage is the repository's Dockerfile built from this tree (what `make image` builds).
	productImage = "sqldr-itest:product-" + runTag
	// testImage adds labrelay to productImage (the lab's split shape across containers).
	testImage = "sqldr-itest:relay-" + runTag
)

// dockerState is what TestMain found: whether containers can run, and why not.
var dockerState struct {
	ok     bool
	reason string
}

func TestMain(m *testing.M) {
	// testcontainers-go must aim at the local engine (the machine carries /.dockerenv, so it would
	// otherwise aim at the default gateway) and must not pull the Ryuk image (no registry here).
	_ = os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	_ = os.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if err := dockerPing(); err != nil {
		dockerState.reason = fmt.Sprintf("no Docker engine answers: %v", err)
		return m.Run()
	}
	start := time.Now()
	if err := buildImages(); err != nil {
		// A build failure is a failure, not a skip: the engine is there.
		fmt.Fprintf(os.Stderr, "integration: build images: %v\n", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "integration: images built in %s\n", time.Since(start).Round(time.Millisecond))
	dockerState.ok = true
	defer removeImages()
	code := m.Run()
	if code == 0 {
		// Every sampler, relay of output and SQL pool must be gone; idle keep-alive connections of
		// the Docker API client are not ours to close.
		if err := goleak.Find(goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
			goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
			goleak.IgnoreTopFunction("internal/poll.runtime_pollWait")); err != nil {
			fmt.Fprintf(os.Stderr, "integration: goroutines left behind: %v\n", err)
			return 1
		}
	}
	return code
}

// needDocker skips the test when no Docker engine answers, or fails it under CI=true.
func needDocker(t *testing.T) {
	t.Helper()
	if dockerState.ok {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true and the container suite cannot run: %s", dockerState.reason)
	}
	t.Skipf("container suite skipped: %s", dockerState.reason)
}

func dockerPing() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return fmt.Errorf("docker client: %w", err)
	}
	defer func() { _ = cli.Close() }()
	if _, err := cli.Ping(ctx, client.PingOptions{}); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	// The images are built with the docker CLI: it must reach the same engine.
	if b, err := exec.CommandContext(ctx, "docker", "version", "--format", "{{.Server.Version}}").CombinedOutput(); err != nil {
		return fmt.Errorf("docker version: %w: %s", err, b)
	}
	return nil
}

// repoRoot is the module root (integration/..).
func repoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	root := filepath.Dir(wd)
	if _, err := os.Stat(filepath.Join(root, "Dockerfile")); err != nil {
		return "", fmt.Errorf("no Dockerfile in %s: %w", root, err)
	}
	return root, nil
}

// buildImages builds the static binaries from this tree and the two images. It always rebuilds:
// an image left over from another tree would test stale code (Docker's layer cache keeps an
// unchanged rebuild cheap).
func buildImages() error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "sqldr-itest-image-")
	if err != nil {
		return fmt.Errorf("temp dir: %w", err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	product := filepath.Join(dir, "product")
	relay := filepath.Join(dir, "relay")
	for _, d := range []string{product, relay} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return fmt.Errorf("mkdir %s: %w", d, err)
		}
	}
	// SQLDR_ITEST_SOURCE builds sqldr from another checkout of the module (e.g. a `git archive`
	// of a commit) while the working tree is mid-edit; labrelay always comes from this tree.
	src := root
	if d := os.Getenv("SQLDR_ITEST_SOURCE"); d != "" {
		src = d
	}
	build := func(out, pkg, dir string) error {
		cmd := exec.CommandContext(ctx, goBin(), "build", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
		}
		return nil
	}
	if err := build(filepath.Join(product, "sqldr"), "./cmd/sqldr", src); err != nil {
		return err
	}
	if err := build(filepath.Join(relay, "labrelay"), "./integration/labrelay", root); err != nil {
		return err
	}
	if err := copyFile("/etc/ssl/certs/ca-certificates.crt", filepath.Join(product, "ca-certificates.crt")); err != nil {
		return err
	}
	if err := dockerBuild(ctx, productImage, product, filepath.Join(root, "Dockerfile")); err != nil {
		return err
	}
	df := filepath.Join(relay, "Dockerfile")
	layer := "FROM " + productImage + "\nCOPY labrelay /usr/local/bin/labrelay\n"
	if err := os.WriteFile(df, []byte(layer), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", df, err)
	}
	return dockerBuild(ctx, testImage, relay, df)
}

// goBin is the go command that runs this test (GOROOT/bin/go when go test set GOROOT).
func goBin() string {
	if r := os.Getenv("GOROOT"); r != "" {
		if p := filepath.Join(r, "bin", "go"); fileExists(p) {
			return p
		}
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// removeImages removes the run's images (best effort: a leftover only costs disk).
func removeImages() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if b, err := exec.CommandContext(ctx, "docker", "rmi", testImage, productImage).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "integration: remove images: %v: %s\n", err, b)
	}
}

// dockerBuild runs `docker build` with the classic builder, which uses local base images and
// never reaches for a registry.
func dockerBuild(ctx context.Context, tag, contextDir, dockerfile string) error {
	cmd := exec.CommandContext(ctx, "docker", "build", "-q", "-t", tag, "-f", dockerfile, contextDir)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	b, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("docker build %s: %w\n%s", tag, err, b)
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("open %s: %w", src, err)
	}
	defer func() { _ = in.Close() }()
	out, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("create %s: %w", dst, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("close %s: %w", dst, err)
	}
	return nil
}

// errNotYet is what a polled condition returns while it does not hold yet.
var errNotYet = errors.New("condition not met yet")

// eventually polls cond every interval until it returns nil or the deadline passes, and fails the
// test with cond's last error.
func eventually(t *testing.T, within, every time.Duration, what string, cond func() error) {
	t.Helper()
	if err := poll(context.Background(), within, every, cond); err != nil {
		t.Fatalf("%s: not within %s: %v", what, within, err)
	}
}

func poll(ctx context.Context, within, every time.Duration, cond func() error) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	tick := time.NewTicker(every)
	defer tick.Stop()
	var last error
	for {
		if last = cond(); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return last
		case <-tick.C:
		}
	}
}

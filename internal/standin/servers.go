package standin

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// FakesnowServer is a running fakesnow server.
type FakesnowServer struct {
	Host string // always 127.0.0.1
	Port int
}

// DSN returns a gosnowflake DSN for database db and schema on this server.
// The credentials are ignored by fakesnow; protocol=http because it serves
// plain HTTP, and disableTelemetry=true because it has no telemetry
// endpoint. With db and schema "" the connection has no current database,
// which is how a test creates the ones it then names.
func (f *FakesnowServer) DSN(db, schema string) string {
	return fmt.Sprintf("fake:snow@%s/%s/%s?account=fakesnow&protocol=http&insecureMode=true&disableTelemetry=true",
		net.JoinHostPort(f.Host, strconv.Itoa(f.Port)), db, schema)
}

// Fakesnow starts a fakesnow server with empty in-memory databases for the
// test and stops it when the test ends. Databases and schemas named in a DSN
// must be created (CREATE DATABASE / CREATE SCHEMA) before use.
func Fakesnow(t testing.TB) *FakesnowServer {
	t.Helper()
	s := run(t, "fakesnow", "fakesnow", func(port int) []string {
		return []string{"-s", "--host", "127.0.0.1", "--port", strconv.Itoa(port)}
	})
	return &FakesnowServer{Host: "127.0.0.1", Port: s.port}
}

// MotoServer is a running moto server. Any credentials are accepted; the ones
// here are dummies that keep the SDK from looking for real ones.
type MotoServer struct {
	Endpoint        string // http://127.0.0.1:PORT
	Region          string // us-east-1
	AccessKeyID     string
	SecretAccessKey string
}

// Moto starts a moto server for the test and stops it when the test ends.
// Its state (secrets and so on) starts empty.
func Moto(t testing.TB) *MotoServer {
	t.Helper()
	s := run(t, "moto", "moto_server", func(port int) []string {
		return []string{"-H", "127.0.0.1", "-p", strconv.Itoa(port)}
	})
	return &MotoServer{
		Endpoint:        "http://127.0.0.1:" + strconv.Itoa(s.port),
		Region:          "us-east-1",
		AccessKeyID:     "testing",
		SecretAccessKey: "testing",
	}
}

// Config returns an AWS SDK configuration that sends every service's
// requests to this server with the dummy credentials.
func (m *MotoServer) Config() aws.Config {
	return aws.Config{
		Region:       m.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(m.AccessKeyID, m.SecretAccessKey, ""),
		BaseEndpoint: aws.String(m.Endpoint),
	}
}

// Setenv points the AWS SDK's default configuration chain at this server
// for the rest of the test: dummy credentials, the region, the endpoint,
// and no shared config files or instance metadata, so nothing on the
// developer's machine leaks in. Like t.Setenv it cannot be used in
// parallel tests.
func (m *MotoServer) Setenv(t testing.TB) {
	t.Helper()
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           m.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":       m.SecretAccessKey,
		"AWS_SESSION_TOKEN":           "",
		"AWS_REGION":                  m.Region,
		"AWS_DEFAULT_REGION":          m.Region,
		"AWS_ENDPOINT_URL":            m.Endpoint,
		"AWS_PROFILE":                 "",
		"AWS_CONFIG_FILE":             none,
		"AWS_SHARED_CREDENTIALS_FILE": none,
		"AWS_EC2_METADATA_DISABLED":   "true",
	} {
		t.Setenv(k, v)
	}
}

// minNode is the oldest Node major version jsforce 3.10 runs on.
const minNode = 20

// Node returns the path of the node binary, after checking that it is
// Node minNode or newer.
func Node(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("node")
	if err != nil {
		fail(t, &notInstalled{name: "node", hint: fmt.Sprintf("install Node.js %d or newer", minNode), err: err})
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("%s --version: %v", bin, err)
	}
	if err := checkNode(string(out)); err != nil {
		fail(t, &notInstalled{name: fmt.Sprintf("node %d or newer", minNode), hint: "install a newer Node.js", err: fmt.Errorf("%s: %w", bin, err)})
	}
	return bin
}

var nodeVersion = regexp.MustCompile(`^v(\d+)\.\d+\.\d+`)

// checkNode checks `node --version` output against minNode.
func checkNode(version string) error {
	m := nodeVersion.FindStringSubmatch(version)
	if m == nil {
		return fmt.Errorf("unrecognised node version %q", version)
	}
	major, err := strconv.Atoi(m[1])
	if err != nil {
		return fmt.Errorf("unrecognised node version %q: %w", version, err)
	}
	if major < minNode {
		return fmt.Errorf("node %s is older than %d", m[0], minNode)
	}
	return nil
}

// run starts the Python stand-in bin from .venv/bin and stops it when the
// test ends.
func run(t testing.TB, name, bin string, args func(port int) []string) *server {
	t.Helper()
	return runAt(t, Root, name, bin, args)
}

// runAt is run with the repository root from root, for tests of the harness.
func runAt(t testing.TB, root func() (string, error), name, bin string, args func(port int) []string) *server {
	t.Helper()
	dir, err := root()
	if err != nil {
		t.Fatal(err)
	}
	return runIn(t, dir, name, bin, args)
}

func runIn(t testing.TB, root, name, bin string, args func(port int) []string) *server {
	t.Helper()
	path, err := venvBinary(root, bin)
	if err != nil {
		fail(t, &notInstalled{name: name, hint: installHint, err: err})
	}
	s, err := startServer(context.Background(), serverSpec{name: name, bin: path, args: args, dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, s.out.lines(40))
		}
	})
	t.Logf("%s answering on 127.0.0.1:%d after %v", name, s.port, s.took.Round(10*time.Millisecond))
	return s
}

// venvBinary returns the path of an executable in root's .venv/bin.
func venvBinary(root, bin string) (string, error) {
	path := filepath.Join(root, ".venv", "bin", bin)
	info, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if info.IsDir() || info.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("%s is not an executable file", path)
	}
	return path, nil
}

package clitest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// hookkitBin is the command under test, built once by TestMain from this
// checkout (the workspace).
var hookkitBin string

func TestMain(m *testing.M) {
	if os.Getenv(bareEndpointEnv) != "" {
		os.Exit(serveBareEndpoint())
	}
	dir, err := os.MkdirTemp("", "hookkit-clitest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	hookkitBin = filepath.Join(dir, "hookkit")
	build := exec.Command("go", "build", "-o", hookkitBin, "github.com/hookkit/hookkit/cmd/hookkit")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building hookkit:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// repoTestdata is the repository's recorded deliveries.
func repoTestdata() string {
	abs, err := filepath.Abs(filepath.Join("..", "..", "..", "testdata"))
	if err != nil {
		panic(err)
	}
	return abs
}

// TestScripts runs testdata/script/*.txtar. Each script has its own
// endpoints ($URL/<route>, see server_test.go) and the built hookkit on
// its PATH.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("PATH", filepath.Dir(hookkitBin)+string(os.PathListSeparator)+env.Getenv("PATH"))
			s, err := newServer()
			if err != nil {
				return err
			}
			env.Defer(s.close)
			st := &scriptState{server: s, posted: map[string]*posted{}, procs: map[string]*process{}}
			env.Defer(st.stop)
			env.Values[stateKey{}] = st
			env.Setenv("URL", s.srv.URL)
			env.Setenv("APP", s.srv.URL)
			env.Setenv("ADMIN", s.srv.URL+"/dead-letters")
			env.Setenv("ADMIN_TOKEN", adminToken)
			env.Setenv("V1A_SIGNING_KEY", v1aSigning)
			env.Setenv("TESTDATA", repoTestdata())
			return nil
		},
		Cmds: scriptCommands,
	})
}

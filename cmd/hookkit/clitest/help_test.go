package clitest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestHelpExamplesAreScripts checks that every example in the help of
// every command is a line of testdata/script/help_<command>.txtar (run by
// TestScripts), as "exec hookkit ...", "! exec hookkit ..." or, for a
// command that serves, "launch NAME hookkit ...": an example that stopped
// working fails a test.
func TestHelpExamplesAreScripts(t *testing.T) {
	out, err := exec.Command(hookkitBin, "help").Output()
	if err != nil {
		t.Fatal(err)
	}
	names := regexp.MustCompile(`(?m)^\t(\w+) {2,}\S`).FindAllStringSubmatch(string(out), -1)
	if len(names) < 6 {
		t.Fatalf("hookkit help lists %d commands:\n%s", len(names), out)
	}
	for _, m := range names {
		name := m[1]
		t.Run(name, func(t *testing.T) {
			help, err := exec.Command(hookkitBin, "help", name).Output()
			if err != nil {
				t.Fatal(err)
			}
			_, examples, ok := strings.Cut(string(help), "\nExamples:\n")
			if !ok {
				t.Fatalf("hookkit help %s has no examples", name)
			}
			script, err := os.ReadFile(filepath.Join("testdata", "script", "help_"+name+".txtar"))
			if err != nil {
				t.Fatal(err)
			}
			lines := map[string]bool{}
			launch := regexp.MustCompile(`^launch \w+ `)
			for _, line := range strings.Split(string(script), "\n") {
				line = strings.TrimPrefix(strings.TrimPrefix(line, "! "), "exec ")
				lines[launch.ReplaceAllString(line, "")] = true
			}
			n := 0
			for _, ex := range strings.Split(strings.TrimSpace(examples), "\n") {
				ex = strings.TrimSpace(ex)
				if !strings.HasPrefix(ex, "hookkit ") {
					continue
				}
				n++
				if !lines[ex] {
					t.Errorf("the example %q is not a line of help_%s.txtar", ex, name)
				}
			}
			if n == 0 {
				t.Errorf("hookkit help %s shows no example", name)
			}
		})
	}
}

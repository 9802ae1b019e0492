package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	version := flag.String("version", "", "the version to publish every module at (default: the one the modules require of one another)")
	short := flag.Bool("short", false, "run the modules' tests with -short")
	keep := flag.Bool("keep", false, "keep the temporary directory (proxy, module cache, hosts) and print its path")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, *version, *short, *keep)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "\nrelease rehearsal FAILED:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, version string, short, keep bool) error {
	began := time.Now()
	root, err := repositoryRoot()
	if err != nil {
		return err
	}
	mods, err := discover(root)
	if err != nil {
		return err
	}
	if version, err = checkRelease(mods, version); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "hookkit-rehearsal-")
	if err != nil {
		return err
	}
	if keep {
		fmt.Println("keeping", work)
	} else {
		defer os.RemoveAll(work)
	}
	r, err := newRehearsal(ctx, root, work, mods, version, short)
	if err != nil {
		return err
	}
	if err := r.publishAll(mods); err != nil {
		return err
	}
	for _, m := range mods {
		if m.Public() {
			r.host(ctx, m)
		}
	}
	r.commands(ctx, mods)
	r.summary(time.Since(began))
	if len(r.failed) > 0 {
		return fmt.Errorf("%d step(s) failed:\n  %s", len(r.failed), strings.Join(r.failed, "\n  "))
	}
	return ctx.Err()
}

// repositoryRoot is the top of the git work tree holding the working
// directory.
func repositoryRoot() (string, error) {
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
		}
		return "", fmt.Errorf("finding the repository (run from inside it): git rev-parse: %w", err)
	}
	return filepath.Clean(strings.TrimSpace(string(out))), nil
}

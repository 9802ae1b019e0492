package riverqueue

import (
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/hookkit/hookkit/dispatch"
)

// A host's River settings stay the host's: its -1 retention ("never
// delete") and its rescue period (River's default when unset) are kept,
// and its job timeout is not raised; hookkit fills in only zeros. Before,
// New merged with max(): -1 became 96 h and an unset rescue became two
// minutes for every job of the client, so a host job longer than that was
// rescued and run again beside itself.
func TestRiverSettingsStayTheHosts(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	merged := func(t *testing.T, host *river.Config, cfg Config) *river.Config {
		t.Helper()
		explicit := cfg.RescueAfter != 0
		cfg.River = host
		cfg.Logger = quiet
		if err := cfg.withDefaults(); err != nil {
			t.Fatal(err)
		}
		rc := &river.Config{}
		if host != nil {
			copied := *host
			rc = &copied
		}
		if err := mergeRiverConfig(rc, cfg, host == nil || explicit); err != nil {
			t.Fatal(err)
		}
		return rc
	}

	t.Run("a host client with its own long jobs", func(t *testing.T) {
		rc := merged(t, &river.Config{CompletedJobRetentionPeriod: -1, DiscardedJobRetentionPeriod: -1, JobTimeout: 30 * time.Minute}, Config{})
		if rc.CompletedJobRetentionPeriod != time.Duration(-1) {
			t.Errorf("never delete stays never delete: got %v, want %v", rc.CompletedJobRetentionPeriod, time.Duration(-1))
		}
		if rc.DiscardedJobRetentionPeriod != time.Duration(-1) {
			t.Errorf("rc.DiscardedJobRetentionPeriod: got %v, want %v", rc.DiscardedJobRetentionPeriod, time.Duration(-1))
		}
		if rc.CancelledJobRetentionPeriod != 7*24*time.Hour {
			t.Errorf("a zero is filled in: got %v, want %v", rc.CancelledJobRetentionPeriod, 7*24*time.Hour)
		}
		if rc.RescueStuckJobsAfter != 0 {
			t.Errorf("River's default (an hour, or past the host's job timeout) applies, not hookkit's two minutes: got %v, want zero", rc.RescueStuckJobsAfter)
		}
		if rc.JobTimeout != 30*time.Minute {
			t.Errorf("the host's timeout is its own: got %v, want %v", rc.JobTimeout, 30*time.Minute)
		}
	})
	t.Run("the host's rescue period", func(t *testing.T) {
		rc := merged(t, &river.Config{RescueStuckJobsAfter: 3 * time.Hour}, Config{})
		if rc.RescueStuckJobsAfter != 3*time.Hour {
			t.Errorf("rc.RescueStuckJobsAfter: got %v, want %v", rc.RescueStuckJobsAfter, 3*time.Hour)
		}
	})
	t.Run("a client of hookkit's own", func(t *testing.T) {
		rc := merged(t, nil, Config{})
		if rc.RescueStuckJobsAfter != DefaultTimeout+time.Minute {
			t.Errorf("hookkit's jobs are rescued two minutes after a crash: got %v, want %v", rc.RescueStuckJobsAfter, DefaultTimeout+time.Minute)
		}
		if rc.CompletedJobRetentionPeriod != 96*time.Hour {
			t.Errorf("rc.CompletedJobRetentionPeriod: got %v, want %v", rc.CompletedJobRetentionPeriod, 96*time.Hour)
		}
		if rc.JobTimeout != DefaultTimeout {
			t.Errorf("below the rescue, as River requires: got %v, want %v", rc.JobTimeout, DefaultTimeout)
		}
	})
	t.Run("an explicit RescueAfter on a host client", func(t *testing.T) {
		rc := merged(t, &river.Config{}, Config{RescueAfter: 5 * time.Minute})
		if rc.RescueStuckJobsAfter != 5*time.Minute {
			t.Errorf("rc.RescueStuckJobsAfter: got %v, want %v", rc.RescueStuckJobsAfter, 5*time.Minute)
		}
	})
	t.Run("a host rescue shorter than hookkit's timeout", func(t *testing.T) {
		cfg := Config{River: &river.Config{RescueStuckJobsAfter: 30 * time.Second}, Logger: quiet}
		if err := cfg.withDefaults(); err != nil {
			t.Fatal(err)
		}
		err := mergeRiverConfig(&river.Config{RescueStuckJobsAfter: 30 * time.Second}, cfg, false)
		if !errors.Is(err, dispatch.ErrInvalidConfig) {
			t.Errorf("err: got %v, want %v", err, dispatch.ErrInvalidConfig)
		}
	})
}

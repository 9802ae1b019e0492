package riverqueue

import (
	"log/slog"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
		require.NoError(t, cfg.withDefaults())
		rc := &river.Config{}
		if host != nil {
			copied := *host
			rc = &copied
		}
		require.NoError(t, mergeRiverConfig(rc, cfg, host == nil || explicit))
		return rc
	}

	t.Run("a host client with its own long jobs", func(t *testing.T) {
		rc := merged(t, &river.Config{CompletedJobRetentionPeriod: -1, DiscardedJobRetentionPeriod: -1, JobTimeout: 30 * time.Minute}, Config{})
		assert.Equal(t, time.Duration(-1), rc.CompletedJobRetentionPeriod, "never delete stays never delete")
		assert.Equal(t, time.Duration(-1), rc.DiscardedJobRetentionPeriod)
		assert.Equal(t, 7*24*time.Hour, rc.CancelledJobRetentionPeriod, "a zero is filled in")
		assert.Zero(t, rc.RescueStuckJobsAfter, "River's default (an hour, or past the host's job timeout) applies, not hookkit's two minutes")
		assert.Equal(t, 30*time.Minute, rc.JobTimeout, "the host's timeout is its own")
	})
	t.Run("the host's rescue period", func(t *testing.T) {
		rc := merged(t, &river.Config{RescueStuckJobsAfter: 3 * time.Hour}, Config{})
		assert.Equal(t, 3*time.Hour, rc.RescueStuckJobsAfter)
	})
	t.Run("a client of hookkit's own", func(t *testing.T) {
		rc := merged(t, nil, Config{})
		assert.Equal(t, DefaultTimeout+time.Minute, rc.RescueStuckJobsAfter, "hookkit's jobs are rescued two minutes after a crash")
		assert.Equal(t, 96*time.Hour, rc.CompletedJobRetentionPeriod)
		assert.Equal(t, DefaultTimeout, rc.JobTimeout, "below the rescue, as River requires")
	})
	t.Run("an explicit RescueAfter on a host client", func(t *testing.T) {
		rc := merged(t, &river.Config{}, Config{RescueAfter: 5 * time.Minute})
		assert.Equal(t, 5*time.Minute, rc.RescueStuckJobsAfter)
	})
	t.Run("a host rescue shorter than hookkit's timeout", func(t *testing.T) {
		cfg := Config{River: &river.Config{RescueStuckJobsAfter: 30 * time.Second}, Logger: quiet}
		require.NoError(t, cfg.withDefaults())
		err := mergeRiverConfig(&river.Config{RescueStuckJobsAfter: 30 * time.Second}, cfg, false)
		assert.ErrorIs(t, err, dispatch.ErrInvalidConfig)
	})
}

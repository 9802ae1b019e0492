package riverqueue

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/reconcile"
)

// ReconcileKind is the River job kind of a reconciliation run.
const ReconcileKind = "hookkit.reconcile"

// ReconcileArgs are the arguments of a reconciliation job: it runs every
// Reconciler added to its Reconciliations.
type ReconcileArgs struct{}

// Kind implements river.JobArgs.
func (ReconcileArgs) Kind() string { return ReconcileKind }

// ReconcileConfig configures AddReconcile.
type ReconcileConfig struct {
	// Every is the period of the runs. Required.
	Every time.Duration
	// Queue is the River queue the runs' jobs go to (default
	// DefaultQueue, the queue New gives hookkit's workers; name the
	// Queue's Config.Queue if it is another).
	Queue string
}

// Reconciliations is the River periodic job that runs a host's
// Reconcilers (AddReconcile).
type Reconciliations struct {
	mu          sync.Mutex
	reconcilers []*reconcile.Reconciler
}

// AddReconcile adds a River periodic job to rc that runs, every period,
// each Reconciler given to the returned Reconciliations' Add: its worker
// joins rc.Workers (created if nil), its job rc.PeriodicJobs. Give rc as
// the Queue's Config.River (New keeps rc's workers and periodic jobs
// beside its own), or to the host's own River client; then build the
// Endpoint on the Queue, the Reconcilers on the Endpoint, and Add them
// before Start.
//
// River's elected leader alone inserts periodic jobs, and the job is
// unique while it waits or runs, so one replica runs the Reconcilers at a
// time; each Reconciler's Store lease refuses a run beside another all the
// same (from dispatch/admin's start, say). A run's failure is in its
// Report and log line, and the job completes: the next period's run is the
// retry, from the checkpoint. The first run starts when the client starts.
func AddReconcile(rc *river.Config, cfg ReconcileConfig) (*Reconciliations, error) {
	if rc == nil {
		return nil, fmt.Errorf("riverqueue: AddReconcile: nil river.Config: %w", dispatch.ErrInvalidConfig)
	}
	if cfg.Every <= 0 {
		return nil, fmt.Errorf("riverqueue: ReconcileConfig.Every %s must be positive: %w", cfg.Every, dispatch.ErrInvalidConfig)
	}
	if cfg.Queue == "" {
		cfg.Queue = DefaultQueue
	}
	if rc.Workers == nil {
		rc.Workers = river.NewWorkers()
	}
	j := &Reconciliations{}
	if err := river.AddWorkerSafely(rc.Workers, &reconcileWorker{j: j}); err != nil {
		return nil, fmt.Errorf("riverqueue: %w", err)
	}
	opts := &river.InsertOpts{Queue: cfg.Queue, MaxAttempts: 1, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
		rivertype.JobStateRetryable, rivertype.JobStateScheduled}}}
	rc.PeriodicJobs = append(rc.PeriodicJobs, river.NewPeriodicJob(river.PeriodicInterval(cfg.Every),
		func() (river.JobArgs, *river.InsertOpts) { return ReconcileArgs{}, opts },
		&river.PeriodicJobOpts{RunOnStart: true}))
	return j, nil
}

// Add adds Reconcilers to the job's runs. A nil one, or two of the same
// name, is an error wrapping dispatch.ErrInvalidConfig.
func (j *Reconciliations) Add(rs ...*reconcile.Reconciler) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, r := range rs {
		if r == nil {
			return fmt.Errorf("riverqueue: Reconciliations.Add: nil Reconciler: %w", dispatch.ErrInvalidConfig)
		}
		if slices.ContainsFunc(j.reconcilers, func(o *reconcile.Reconciler) bool { return o.Name() == r.Name() }) {
			return fmt.Errorf("riverqueue: two Reconcilers named %q: %w", r.Name(), dispatch.ErrInvalidConfig)
		}
		j.reconcilers = append(j.reconcilers, r)
	}
	return nil
}

type reconcileWorker struct {
	river.WorkerDefaults[ReconcileArgs]
	j *Reconciliations
}

// Timeout implements river.Worker: each run bounds itself
// (reconcile.Config.MaxDuration).
func (w *reconcileWorker) Timeout(*river.Job[ReconcileArgs]) time.Duration { return -1 }

// Work implements river.Worker: the Reconcilers run side by side. Their
// Reports are logged and stored by the runs; the next period retries.
func (w *reconcileWorker) Work(ctx context.Context, job *river.Job[ReconcileArgs]) error {
	w.j.mu.Lock()
	rs := slices.Clone(w.j.reconcilers)
	w.j.mu.Unlock()
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Go(func() { r.Run(ctx) })
	}
	wg.Wait()
	return nil
}

package runcmd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/aftershock-sre/aftershock/cmd/aftershock/internal/progress"
	"github.com/aftershock-sre/aftershock/experiments"
	"github.com/aftershock-sre/aftershock/features"
	"github.com/aftershock-sre/aftershock/infra/lab"
	"github.com/aftershock-sre/aftershock/infra/topology"
	"github.com/aftershock-sre/aftershock/reports"
	"github.com/aftershock-sre/aftershock/steps"
)

type flagpole struct {
	infraFlags
	tags      string
	seed      uint64
	reportDir string
	markdown  bool
}

// ErrScenariosFailed is returned when a run had failing scenarios.
var ErrScenariosFailed = errors.New("some scenarios failed")

// NewRunCommand returns `aftershock run`.
func NewRunCommand(logger *slog.Logger, out, errOut io.Writer) *cobra.Command {
	flags := &flagpole{}
	cmd := &cobra.Command{
		Use:   "run [paths...]",
		Short: "Run feature files against a fleet (default: the embedded disaster library)",
		RunE: func(cmd *cobra.Command, paths []string) error {
			suite := newSuite(paths, flags)
			provider, err := flags.provider(logger, errOut)
			if err != nil {
				return err
			}
			fleet, err := flags.fleetOverride()
			if err != nil {
				return err
			}
			runID := newRunID()
			if suite.ReportDir == "" {
				suite.ReportDir = filepath.Join("reports", "out", runID)
			}
			if err := os.MkdirAll(suite.ReportDir, 0o755); err != nil {
				return fmt.Errorf("report folder: %w", err)
			}
			recorder := &timelines{}
			started := time.Now()
			printer := progress.New(errOut)
			live := &liveStatus{printer: printer}
			suite.Steps = steps.Options{
				Provider:    provider,
				Fleet:       fleet,
				Seed:        flags.seed,
				BlastRadius: flags.blastRadius(),
				JournalDir:  suite.ReportDir,
				Timelines:   recorder.add,
				Watch:       live.watch,
			}
			suite.Output = printer.Passthrough(out)
			suite.Context = cmd.Context()
			statusCtx, stopStatus := context.WithCancel(cmd.Context())
			go live.run(statusCtx, 500*time.Millisecond)
			status, err := suite.Run(printer.Passthrough(errOut))
			stopStatus()
			printer.Done()
			if err != nil {
				return err
			}
			j := reports.FromTimelines(runID, recorder.scenarios)
			j.Started = started
			j.Inputs = reports.Inputs{
				Features: recorder.features(suite.URIPrefix), Seed: flags.seed, Provider: flags.infra,
				Topology: recorder.topology(),
				Versions: map[string]string{"kubernetes": lab.KubeVersion, "etcd": "debian etcd-server"},
			}
			if err := writeReport(suite.ReportDir, j); err != nil {
				return err
			}
			fmt.Fprintf(out, "\nreport: %s/index.html (also summary.md, journal.json, junit.xml, cucumber.json)\n", suite.ReportDir)
			if cmd.Context().Err() != nil {
				return cmd.Context().Err()
			}
			if status != 0 {
				return ErrScenariosFailed
			}
			return nil
		},
	}
	addSuiteFlags(cmd, flags)
	cmd.Flags().StringVar(&flags.reportDir, "report-dir", "", "where the report goes (default reports/out/<run-id>)")
	return cmd
}

// NewPlanCommand returns `aftershock plan`.
func NewPlanCommand(out io.Writer) *cobra.Command {
	flags := &flagpole{}
	cmd := &cobra.Command{
		Use:   "plan [paths...]",
		Short: "Dry-run feature files: check every step and print what each fault would hit, creating nothing",
		RunE: func(cmd *cobra.Command, paths []string) error {
			if err := flags.validate(); err != nil {
				return err
			}
			if flags.infra == "terraform" {
				if err := flags.planTerraform(cmd.Context(), out, slog.New(slog.DiscardHandler)); err != nil {
					return err
				}
			}
			fleet, err := flags.fleetOverride()
			if err != nil {
				return err
			}
			suite := newSuite(paths, flags)
			suite.Steps = steps.Options{Seed: flags.seed, BlastRadius: flags.blastRadius(), Fleet: fleet}
			return suite.Plan(out)
		},
	}
	addSuiteFlags(cmd, flags)
	return cmd
}

// NewStepsCommand returns `aftershock steps`.
func NewStepsCommand(out io.Writer) *cobra.Command {
	flags := &flagpole{}
	cmd := &cobra.Command{
		Use:   "steps",
		Short: "Print every step phrase with an example",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if flags.markdown {
				return steps.WriteMarkdown(out)
			}
			return steps.WriteText(out)
		},
	}
	cmd.Flags().BoolVar(&flags.markdown, "markdown", false, "print docs/steps.md")
	return cmd
}

func addSuiteFlags(cmd *cobra.Command, flags *flagpole) {
	cmd.Flags().StringVar(&flags.tags, "tags", "", "only scenarios matching this tag expression, e.g. @flagship")
	cmd.Flags().Uint64Var(&flags.seed, "seed", 1, "seed of every random choice (which nodes, when)")
	addInfraFlags(cmd, &flags.infraFlags)
}

// newSuite reads features from paths, or from the embedded library.
func newSuite(paths []string, flags *flagpole) steps.Suite {
	fsys, paths, prefix := featureSource(paths)
	return steps.Suite{FS: fsys, Paths: paths, URIPrefix: prefix, Tags: flags.tags, ReportDir: flags.reportDir}
}

// featureSource returns the file system and paths godog reads: the embedded
// library when no path is given; else the working folder, so that reports
// show paths as the user typed them, or / for paths outside it.
func featureSource(paths []string) (fsys fs.FS, rel []string, uriPrefix string) {
	if len(paths) == 0 {
		return features.FS, []string{"."}, ""
	}
	wd, err := os.Getwd()
	local := make([]string, len(paths))
	for i, p := range paths {
		abs, absErr := filepath.Abs(p)
		rel, relErr := filepath.Rel(wd, abs)
		if err != nil || absErr != nil || relErr != nil || !filepath.IsLocal(rel) {
			return os.DirFS("/"), rootRelative(paths), "/"
		}
		local[i] = rel
	}
	return os.DirFS(wd), local, ""
}

// rootRelative makes every path relative to / for an os.DirFS("/").
func rootRelative(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		abs, _ := filepath.Abs(p)
		out[i] = abs[1:]
	}
	return out
}

func newRunID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// timelines collects every scenario's timeline for the report.
type timelines struct {
	mu         sync.Mutex
	scenarios  []reports.Scenario
	topologies []*topology.Topology
}

func (t *timelines) add(feature, name string, topo *topology.Topology, tl *experiments.Timeline) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.scenarios = append(t.scenarios, reports.Scenario{Name: name, Feature: feature, Events: tl.Events()})
	t.topologies = append(t.topologies, topo)
}

// topology is the fleet every scenario described, or nil if they differ.
func (t *timelines) topology() *topology.Topology {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.topologies) == 0 || t.topologies[0] == nil {
		return nil
	}
	for _, other := range t.topologies[1:] {
		if other == nil || !reflect.DeepEqual(*other, *t.topologies[0]) {
			return nil
		}
	}
	return t.topologies[0]
}

// features lists the feature files whose scenarios ran, in run order.
func (t *timelines) features(prefix string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for _, s := range t.scenarios {
		if f := prefix + s.Feature; !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// writeReport writes journal.json and renders summary.md and index.html
// from it.
func writeReport(dir string, j reports.Journal) error {
	if err := reports.WriteJournal(filepath.Join(dir, "journal.json"), j); err != nil {
		return err
	}
	return renderReport(dir, j)
}

func renderReport(dir string, j reports.Journal) error {
	md, err := reports.RenderMarkdown(j)
	if err != nil {
		return err
	}
	page, err := reports.RenderHTML(j)
	if err != nil {
		return err
	}
	// Both are rendered before either is written, and each appears whole.
	for name, data := range map[string][]byte{"summary.md": md, "index.html": page} {
		if err := writeAtomic(filepath.Join(dir, name), data); err != nil {
			return err
		}
	}
	return nil
}

// writeAtomic writes data to a temporary file beside path and renames it.
func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// NewReportCommand returns `aftershock report`.
func NewReportCommand(out io.Writer) *cobra.Command {
	var outDir string
	cmd := &cobra.Command{
		Use:   "report JOURNAL",
		Short: "Render summary.md and index.html again from a run's journal.json alone",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			j, err := reports.ReadJournal(args[0])
			if err != nil {
				return err
			}
			if outDir == "" {
				outDir = filepath.Dir(args[0])
			}
			if err := os.MkdirAll(outDir, 0o755); err != nil {
				return fmt.Errorf("report folder: %w", err)
			}
			if err := renderReport(outDir, j); err != nil {
				return err
			}
			fmt.Fprintf(out, "report: %s/index.html and %s/summary.md\n", outDir, outDir)
			return nil
		},
	}
	cmd.Flags().StringVar(&outDir, "out", "", "where to write (default: beside the journal)")
	return cmd
}

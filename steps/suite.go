package steps

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cucumber/godog"
)

// Suite is a set of features to plan or run.
type Suite struct {
	// FS and Paths locate the features (Paths inside FS).
	FS    fs.FS
	Paths []string
	// Tags filters scenarios, e.g. "@flagship".
	Tags string
	// URIPrefix is put before feature paths in messages, e.g. "/" when FS
	// is the root file system.
	URIPrefix string
	// Steps configures the step library; Plan and PlanOut are set by Plan.
	Steps Options
	// Output receives the pretty report of a run.
	Output io.Writer
	// ReportDir, if set, receives junit.xml and cucumber.json.
	ReportDir string
	// TestingT makes each scenario a subtest (go test).
	TestingT *testing.T
	// Context, if set, is every scenario's parent: cancelling it (SIGINT)
	// stops the steps, and each scenario still reverts and tears down.
	Context context.Context
}

// ErrPlanFailed means a feature has an undefined step or a bad argument;
// nothing was created or injected.
var ErrPlanFailed = errors.New("the plan failed: nothing was created or injected")

// Plan runs every scenario as a dry run: every step must be defined, every
// argument valid and every selection must match nodes. It writes what each
// fault would hit to out. No fleet is created.
func (s Suite) Plan(out io.Writer) error {
	var report bytes.Buffer
	opts := s.Steps
	opts.Plan, opts.PlanOut, opts.Provider, opts.Timelines, opts.Watch = true, out, nil, nil, nil
	status := godog.TestSuite{
		Name:                "aftershock-plan",
		ScenarioInitializer: planPrinter(opts, out),
		Options: &godog.Options{
			Format: "cucumber", Output: &report, FS: s.FS, Paths: s.Paths, Tags: s.Tags,
			Strict: true, NoColors: true, Concurrency: 1,
		},
	}.Run()
	if status == 0 {
		return nil
	}
	problems, err := planProblems(report.Bytes(), s.URIPrefix)
	if err != nil || len(problems) == 0 {
		// The features did not even parse: godog has said where on stderr.
		return fmt.Errorf("%w: the features could not be read", ErrPlanFailed)
	}
	return fmt.Errorf("%w:\n%s", ErrPlanFailed, strings.Join(problems, "\n"))
}

// cucumberFeature is the part of godog's cucumber JSON report a plan reads.
type cucumberFeature struct {
	URI      string `json:"uri"`
	Elements []struct {
		Steps []struct {
			Keyword string `json:"keyword"`
			Name    string `json:"name"`
			Line    int    `json:"line"`
			Result  struct {
				Status string `json:"status"`
				Error  string `json:"error_message"`
			} `json:"result"`
		} `json:"steps"`
	} `json:"elements"`
}

// planProblems lists every step that failed the plan as
// "file:line: step: what is wrong".
func planProblems(report []byte, uriPrefix string) ([]string, error) {
	var features []cucumberFeature
	if err := json.Unmarshal(report, &features); err != nil {
		return nil, err
	}
	var problems []string
	for _, f := range features {
		for _, e := range f.Elements {
			for _, st := range e.Steps {
				var why string
				switch st.Result.Status {
				case "failed":
					why = st.Result.Error
				case "undefined":
					why = "no such step (aftershock steps lists every phrase)"
				case "pending", "ambiguous":
					why = st.Result.Status + " step: " + st.Result.Error
				default:
					continue
				}
				problems = append(problems, fmt.Sprintf("%s%s:%d: %s%s: %s", uriPrefix, f.URI, st.Line, st.Keyword, st.Name, why))
			}
		}
	}
	return problems, nil
}

// planPrinter announces each scenario before its plan lines.
func planPrinter(opts Options, out io.Writer) func(*godog.ScenarioContext) {
	init := InitializeScenario(opts)
	return func(sc *godog.ScenarioContext) {
		sc.Before(func(ctx context.Context, s *godog.Scenario) (context.Context, error) {
			fmt.Fprintf(out, "%s: %s\n", s.Uri, s.Name)
			return ctx, nil
		})
		init(sc)
	}
}

// Run plans the suite first, so that a bad feature fails before anything is
// created, then runs it for real. It returns 0 only if every scenario passed.
func (s Suite) Run(planOut io.Writer) (int, error) {
	if err := s.Plan(planOut); err != nil {
		return 1, err
	}
	format := "pretty"
	if s.ReportDir != "" {
		if err := os.MkdirAll(s.ReportDir, 0o755); err != nil {
			return 1, fmt.Errorf("report folder: %w", err)
		}
		format += ",junit:" + filepath.Join(s.ReportDir, "junit.xml") + ",cucumber:" + filepath.Join(s.ReportDir, "cucumber.json")
	}
	status := godog.TestSuite{
		Name:                "aftershock",
		ScenarioInitializer: InitializeScenario(s.Steps),
		Options: &godog.Options{
			Format: format, Output: s.Output, FS: s.FS, Paths: s.Paths, Tags: s.Tags,
			Strict: true, Concurrency: 1, TestingT: s.TestingT, DefaultContext: s.Context,
		},
	}.Run()
	return status, nil
}

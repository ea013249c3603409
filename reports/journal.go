package reports

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aftershock-sre/aftershock/experiments"
	"github.com/aftershock-sre/aftershock/infra/topology"
)

// SchemaV1 is the schema version this package writes and reads.
const SchemaV1 = "aftershock.journal/v1"

// Scenario verdicts.
const (
	StatusPassed  = "passed"
	StatusFailed  = "failed"
	StatusAborted = "aborted"
)

// Errors ReadJournal and WriteJournal wrap, so that callers can tell a
// journal from another version apart from a damaged one.
var (
	// ErrUnsupportedSchema: the journal's Schema is missing or is not SchemaV1.
	ErrUnsupportedSchema = errors.New("unsupported journal schema")
	// ErrMalformed: the file is not valid JSON, or a field has the wrong type.
	ErrMalformed = errors.New("malformed journal")
)

// Journal is everything a run recorded: its inputs and every scenario's
// timeline. It is sufficient to re-render every report. Field names are the
// JSON keys; see docs/journal.md.
type Journal struct {
	// Schema is the format version, SchemaV1.
	Schema string
	// RunID names the run, and its folder reports/out/<RunID>.
	RunID string
	// Started and Ended bound the run.
	Started, Ended time.Time
	// Inputs are what the run was started with.
	Inputs Inputs
	// Scenarios are the scenarios run, in the order they ran.
	Scenarios []Scenario
}

// Inputs are what a run was started with, enough to run it again.
type Inputs struct {
	// Features are the feature files or folders run.
	Features []string
	// Seed made every targeting step reproducible.
	Seed uint64
	// Provider is the fleet provider ("lab").
	Provider string
	// Topology is the fleet the scenarios described, if a single one.
	Topology *topology.Topology `json:",omitempty"`
	// Versions maps a component ("aftershock", "kubernetes", "go") to its
	// version.
	Versions map[string]string
}

// Scenario is one scenario's verdict, steps and timeline.
type Scenario struct {
	// Name is the scenario's title; Feature the file it comes from, and
	// Line its line there.
	Name, Feature string
	Line          int
	// Status is StatusPassed, StatusFailed or StatusAborted.
	Status string
	// Steps are the scenario's steps in order.
	Steps []Step
	// Events is the scenario's timeline: the only evidence reports use.
	Events []experiments.Event
}

// Step is one step of a scenario and how it ended.
type Step struct {
	// Keyword is the Gherkin keyword ("Given ", "When ", "Then ", "And ").
	Keyword, Text string
	// Line is the step's line in the feature file (0 when unknown).
	Line int
	// Status is godog's: passed, failed, skipped, undefined, pending or
	// ambiguous; or "aborted" for a step that started and never ended.
	Status string
	// Error is why the step failed.
	Error string `json:",omitempty"`
}

// stepAborted is the status of a step that started and never ended.
const stepAborted = "aborted"

// scenarioPrefix starts the Name of the KindStep events that open and close
// a scenario.
const scenarioPrefix = "scenario: "

// WriteJournal writes j to path as indented JSON, atomically: it writes a
// temporary file in the same folder and renames it over path, so readers
// never see a partial journal. An empty Schema is written as SchemaV1; any
// other version is refused.
func WriteJournal(path string, j Journal) (err error) {
	if j.Schema == "" {
		j.Schema = SchemaV1
	}
	if j.Schema != SchemaV1 {
		return fmt.Errorf("write journal %s: %w %q: this version writes %q", path, ErrUnsupportedSchema, j.Schema, SchemaV1)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(j); err != nil {
		return fmt.Errorf("write journal %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write journal %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write journal %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("write journal %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write journal %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write journal %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write journal %s: %w", path, err)
	}
	return nil
}

// ReadJournal reads the journal at path. It refuses a journal with a missing
// or unknown Schema (ErrUnsupportedSchema) and malformed JSON (ErrMalformed,
// with the line and column of the fault); every error names the file.
// Unknown fields are ignored, so later v1 writers may add fields.
func ReadJournal(path string) (Journal, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Journal{}, fmt.Errorf("read journal: %w", err)
	}
	return decodeJournal(path, data)
}

// decodeJournal parses data, read from name, as a journal.
func decodeJournal(name string, data []byte) (Journal, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return Journal{}, fmt.Errorf("read journal %s: %w: the file is empty", name, ErrMalformed)
	}
	// Read the version first: a journal of another version may not even
	// decode into this one's types.
	var head struct {
		Schema *string
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return Journal{}, malformed(name, data, err)
	}
	switch {
	case head.Schema == nil || *head.Schema == "":
		return Journal{}, fmt.Errorf("read journal %s: %w: no \"Schema\" field (want %q); is it an aftershock journal?",
			name, ErrUnsupportedSchema, SchemaV1)
	case *head.Schema != SchemaV1:
		return Journal{}, fmt.Errorf("read journal %s: %w %q: this version reads %q",
			name, ErrUnsupportedSchema, *head.Schema, SchemaV1)
	}
	var j Journal
	if err := json.Unmarshal(data, &j); err != nil {
		return Journal{}, malformed(name, data, err)
	}
	if err := checkTopology(j.Inputs.Topology); err != nil {
		return Journal{}, fmt.Errorf("read journal %s: %w: %w", name, ErrMalformed, err)
	}
	return j, nil
}

// MaxTopologyNodes bounds the fleet a journal may describe: reports lay out
// every node, so a corrupt count must not exhaust memory.
const MaxTopologyNodes = 1_000_000

// checkTopology refuses a topology with negative node counts or more than
// MaxTopologyNodes nodes, counting without laying them out.
func checkTopology(t *topology.Topology) error {
	if t == nil {
		return nil
	}
	total := 0
	for _, r := range t.Regions {
		for _, c := range r.Clusters {
			if c.ControlPlanes < 0 || c.Workers < 0 {
				return fmt.Errorf("topology cluster %q has a negative node count (%d control planes, %d workers)", c.Name, c.ControlPlanes, c.Workers)
			}
			if c.ControlPlanes > MaxTopologyNodes || c.Workers > MaxTopologyNodes {
				return fmt.Errorf("topology cluster %q has more than %d nodes", c.Name, MaxTopologyNodes)
			}
			total += c.ControlPlanes + c.Workers
			if total > MaxTopologyNodes {
				return fmt.Errorf("topology has more than %d nodes", MaxTopologyNodes)
			}
		}
	}
	return nil
}

// malformed wraps a JSON decoding error with ErrMalformed, the file name
// and, when the error knows it, the line and column of the fault.
func malformed(name string, data []byte, err error) error {
	var offset int64 = -1
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		// Offset counts the bytes read, the offending one included.
		offset = syn.Offset - 1
	case errors.As(err, &typ):
		offset = typ.Offset
	}
	if offset < 0 {
		return fmt.Errorf("read journal %s: %w: %w", name, ErrMalformed, err)
	}
	line, col := position(data, offset)
	return fmt.Errorf("read journal %s: %w at line %d, column %d: %w", name, ErrMalformed, line, col, err)
}

// position converts a byte offset in data to a 1-based line and column.
func position(data []byte, offset int64) (line, col int) {
	offset = min(max(offset, 0), int64(len(data)))
	before := data[:offset]
	line = 1 + bytes.Count(before, []byte("\n"))
	col = 1 + len(before) - (bytes.LastIndexByte(before, '\n') + 1)
	return line, col
}

// FromTimelines builds a journal from scenarios that may hold only a Name
// and Events, as recorded by the step library. For each scenario without
// Steps it derives them from the KindStep events (each "started" event
// paired with the next end of the same text; a step that never ended is
// "aborted"), and without a Status it derives one: failed if a step failed
// (or was undefined, pending or ambiguous), aborted if the scenario or a
// step never ended, passed otherwise; a triggered stop condition makes it
// aborted whatever its steps say. Started and Ended are the earliest and
// latest event times. Inputs are left for the caller to fill in.
func FromTimelines(runID string, scenarios []Scenario) Journal {
	j := Journal{Schema: SchemaV1, RunID: runID}
	for _, sc := range scenarios {
		sc.Events = append([]experiments.Event(nil), sc.Events...)
		if len(sc.Steps) == 0 {
			sc.Steps = stepsFromEvents(sc.Events)
		}
		if sc.Status == "" {
			sc.Status = statusOf(sc.Steps, ended(sc.Events))
			if stopped(sc.Events) {
				sc.Status = StatusAborted
			}
		}
		for _, e := range sc.Events {
			if j.Started.IsZero() || e.Time.Before(j.Started) {
				j.Started = e.Time
			}
			if e.Time.After(j.Ended) {
				j.Ended = e.Time
			}
		}
		j.Scenarios = append(j.Scenarios, sc)
	}
	return j
}

// stepsFromEvents rebuilds a scenario's steps from its KindStep events, in
// the order they started.
func stepsFromEvents(events []experiments.Event) []Step {
	var steps []Step
	open := map[string][]int{} // text -> indexes of steps started, not ended
	for _, e := range timeOrdered(events) {
		if e.Kind != experiments.KindStep || strings.HasPrefix(e.Name, scenarioPrefix) {
			continue
		}
		if e.Status == "started" {
			open[e.Name] = append(open[e.Name], len(steps))
			steps = append(steps, Step{Text: e.Name, Status: stepAborted})
			continue
		}
		idx := open[e.Name]
		if len(idx) == 0 {
			// An end without a start: keep it, it is evidence.
			steps = append(steps, Step{Text: e.Name, Status: e.Status, Error: e.Detail["error"]})
			continue
		}
		steps[idx[0]].Status, steps[idx[0]].Error = e.Status, e.Detail["error"]
		open[e.Name] = idx[1:]
	}
	return steps
}

// ended says whether the events close the scenario ("scenario: …" ended).
func ended(events []experiments.Event) bool {
	return slices.ContainsFunc(events, func(e experiments.Event) bool {
		return e.Kind == experiments.KindStep && strings.HasPrefix(e.Name, scenarioPrefix) && e.Status == "ended"
	})
}

// stopped says whether a stop condition aborted the scenario.
func stopped(events []experiments.Event) bool {
	return slices.ContainsFunc(events, func(e experiments.Event) bool {
		return e.Kind == experiments.KindStop && e.Status == "triggered"
	})
}

// statusOf is a scenario's verdict from its steps.
func statusOf(steps []Step, ended bool) string {
	aborted := !ended
	for _, s := range steps {
		switch s.Status {
		case "failed", "undefined", "pending", "ambiguous":
			return StatusFailed
		case stepAborted:
			aborted = true
		}
	}
	if aborted {
		return StatusAborted
	}
	return StatusPassed
}

// timeOrdered returns a copy of events sorted by time; ties keep their order.
func timeOrdered(events []experiments.Event) []experiments.Event {
	out := append([]experiments.Event(nil), events...)
	slices.SortStableFunc(out, func(a, b experiments.Event) int { return a.Time.Compare(b.Time) })
	return out
}

// Package features is aftershock's disaster library: Gherkin scenarios of
// correlated global failure, embedded into the binary so that `aftershock run`
// can replay them anywhere.
package features

import "embed"

// FS holds every *.feature file of this folder.
//
//go:embed *.feature
var FS embed.FS

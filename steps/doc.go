// Package steps is aftershock's godog step library: the phrases an SRE writes
// disasters with, each a thin piece of glue over the experiments packages.
// Scenario state lives in the context.Context under an unexported key, never in
// package variables, so scenarios can run concurrently.
//
// Every phrase is registered from one table (Library), which also generates
// `aftershock steps` and docs/steps.md. The same steps run in two modes: for
// real against a fleet, and as a plan (a dry run) that validates every
// argument and prints what each fault would hit, creating nothing.
package steps

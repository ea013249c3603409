// Package topology describes the shape of a fleet: regions with their cloud,
// clusters with their role and parent, and nodes with their role. It parses and
// validates topology YAML files, reporting every problem with the file and line
// it comes from, and it holds the named presets the lab can start without a file.
//
// The package does no I/O beyond reading the file it is asked to parse; the lab,
// kind and Terraform providers all build their fleets from the same Topology.
package topology

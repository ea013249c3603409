// Package cloud emulates the parts of a cloud that AWS node replacement
// depends on. Its servers are real HTTP services a lab can put in its fabric:
// an EC2-like cloud API (RunInstances, DescribeInstances, TerminateInstances,
// CreateNetworkInterface) whose calls are throttled by per-API token buckets
// with an AWS-like RequestLimitExceeded error, and a Vault-like certificate
// issuer whose AWS login validates each instance with DescribeInstances and
// sheds requests beyond a concurrency limit. Every call is counted and can be
// observed, and the limits can be changed while the services run. Its
// controllers drive them as the 2023 incident did: an AutoScalingGroup
// replaces nodes that fail consecutive status checks, and a NetworkOperator
// gives new nodes their interfaces, retrying either at a fixed interval (the
// Cilium operator bug) or with exponential backoff. Both work over small
// interfaces (Machines, NodeNetworks) that a fleet implements. The client
// side is a Client with typed errors and a RetryPolicy.
package cloud

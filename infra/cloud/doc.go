// Package cloud emulates the two services that AWS node replacement depends
// on, as real HTTP servers a lab can put in its fabric: an EC2-like cloud API
// (RunInstances, DescribeInstances, TerminateInstances, CreateNetworkInterface)
// whose calls are throttled by per-API token buckets with an AWS-like
// RequestLimitExceeded error, and a Vault-like certificate issuer whose AWS
// login validates each instance with DescribeInstances and sheds requests
// beyond a concurrency limit. Every call is counted and can be observed, so an
// experiment can put throttles and sheds on its timeline, and the limits can
// be changed while the services run. The package also holds the client side
// that node processes use: a Client with typed errors and a RetryPolicy that
// is either a fixed interval (the 2023 Cilium operator bug) or exponential
// backoff with jitter.
package cloud

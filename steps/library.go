package steps

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/cucumber/godog"
)

// Phrase is one step of the library: its anchored pattern, an example an SRE
// can copy, and what it does.
type Phrase struct {
	Keyword string // Given, When or Then
	Pattern string
	Example string
	Doc     string
	handler any
}

// where matches where a fault lands: all regions, all regions of a cloud, or
// one region.
const where = `(all regions|all (?:aws|gcp|azure) regions|[a-z][a-z0-9-]*)`

// groupNames matches one group of nodes.
const groupNames = `(parent control-plane nodes|parent workers|parent nodes|child cluster nodes|all nodes)`

// Library lists every phrase, in the order docs/steps.md shows them.
func Library() []Phrase {
	s := &steps{}
	return []Phrase{
		{"Given", `^a fleet on the lab:$`, "Given a fleet on the lab:\n  | region | cloud | parent control-plane nodes | parent workers | child clusters | nodes per child cluster |\n  | us1    | aws   | 1                          | 2              | 2              | 4                       |",
			"Describes the fleet, one region per row. Each region gets a parent cluster and its child clusters, whose control planes run on the parent's workers. The fleet is built when a later step first needs it.", s.aFleetOnTheLab},
		{"Given", `^every node runs systemd-networkd with ManageForeignRoutingPolicyRules=(yes|no)$`, "Given every node runs systemd-networkd with ManageForeignRoutingPolicyRules=no",
			"Whether a networkd restart deletes the routing-policy rules it did not create (systemd ≥ v248; yes is the default).", s.networkdManagesForeignRules},
		{"Given", `^every node runs systemd-networkd with ManageForeignRoutes=(yes|no)$`, "Given every node runs systemd-networkd with ManageForeignRoutes=yes",
			"Whether a networkd restart also deletes foreign routes on the links it manages (the lab's default: no).", s.networkdManagesForeignRoutes},
		{"Given", `^the CNI installs its routing-policy rules with protocol (kernel|boot|static|unspec)$`, "Given the CNI installs its routing-policy rules with protocol kernel",
			"The protocol the CNI stamps on its ip rules. kernel is Cilium's post-incident fix: networkd leaves those alone.", s.cniRuleProtocol},
		{"Given", `^the "([a-z][a-z0-9-]*)" service runs sharded on every child cluster$`, `Given the "metrics-intake" service runs sharded on every child cluster`,
			"Runs a statically sharded service: one shard on every node of every child cluster, each its own process bound to its node's address. A prober sends it 100 requests a second from outside the regions.", s.serviceRunsSharded},
		{"Given", `^the "([a-z][a-z0-9-]*)" service runs as a (\d+)-replica quorum on every child cluster$`, `Given the "tag-index" service runs as a 3-replica quorum on every child cluster`,
			"Runs a quorum service: an odd number of replicas on the first nodes of every child cluster, each serving only while it reaches a majority of its replicas over the network.", s.serviceRunsAsQuorum},
		{"Given", `^auto-scaling groups in ([a-z][a-z0-9-]*) replace a node after (\d+) failed status checks?$`, "Given auto-scaling groups in us1 replace a node after 3 failed status checks",
			"In an aws region, the nodes that host no control plane belong to one auto-scaling group per cluster. A node that fails that many status checks in a row (one a second, asked of its agent from outside) is terminated and replaced by a new node with a new name and address, which must pass NotStarted (RunInstances), Unregistered (a certificate from the issuer, which checks the instance with DescribeInstances) and Unready (interfaces from the network operator) before it is Ready. Without this step the region's nodes stay as they are.", s.autoScalingReplacesAfter},
		{"Given", `^the cloud API in ([a-z][a-z0-9-]*) allows (\d+(?:\.\d+)?) (RunInstances|DescribeInstances|CreateNetworkInterface) calls per second$`, "Given the cloud API in us1 allows 5 CreateNetworkInterface calls per second",
			"Sets a token bucket on one API of the region's emulated cloud API: that many calls a second, with a burst of one second's worth. Beyond it calls are throttled (RequestLimitExceeded). Defaults: RunInstances 2/s (burst 5), DescribeInstances 20/s (burst 100), CreateNetworkInterface 5/s (burst 50). Takes effect at once if the cloud already runs.", s.cloudAPIAllows},
		{"Given", `^the cloud API in ([a-z][a-z0-9-]*) allows at most (\d+) instances$`, "Given the cloud API in us1 allows at most 30 instances",
			"An instance quota: RunInstances beyond it fails with InstanceLimitExceeded, and auto-scaling groups keep retrying. The fleet's own nodes count. Default: no quota.", s.instanceQuota},
		{"Given", `^the certificate issuer in ([a-z][a-z0-9-]*) serves at most (\d+) concurrent requests?$`, "Given the certificate issuer in us1 serves at most 20 concurrent requests",
			"Caps the Vault-like issuer's concurrent logins; it sheds the rest (503). Default 20, Vault's protection at 18:22 on 2023-03-08. Takes effect at once if the cloud already runs, so it also raises the limit mid-scenario.", s.issuerServesAtMost},
		{"Given", `^the certificate issuer in ([a-z][a-z0-9-]*) takes (\d+) (milliseconds?|seconds?) per login$`, "Given the certificate issuer in us1 takes 1 second per login",
			"How long the issuer works on one login after checking the instance, holding one of its concurrent slots: a loaded Vault. Default 0.", s.issuerTakesPerLogin},
		{"Given", `^the network operator retries every (\d+) (milliseconds?|seconds?) without backoff$`, "Given the network operator retries every 10 milliseconds without backoff",
			"The 2023 Cilium operator: a new node needs 3 interfaces created in one pass, a failed call fails the pass, and the pass is retried at that fixed interval. Applies to every aws region.", s.networkOperatorRetriesEvery},
		{"Given", `^the network operator retries with exponential backoff from (\d+) (milliseconds?|seconds?) to (\d+) (seconds?|minutes?)$`, "Given the network operator retries with exponential backoff from 100 milliseconds to 5 seconds",
			"The fixed operator (and the default): failed passes are retried after a wait that doubles up to the maximum, with equal jitter.", s.networkOperatorBacksOff},
		{"Given", `^the experiment stops if "([a-z][a-z0-9-]*)" availability falls below (\d+(?:\.\d+)?)% for (\d+) (seconds?|minutes?)$`, `Given the experiment stops if "metrics-intake" availability falls below 10% for 5 seconds`,
			"A stop condition, as AWS FIS has them: once the fleet runs, if the service's probed availability over the last window falls below the floor, injection stops, every fault is reverted at once, the running step fails and the scenario is marked aborted; the report says when and why. Declare it after the service.", s.experimentStopsIf},
		{"Given", `^all nodes are Ready$`, "Given all nodes are Ready",
			"Builds the fleet if needed and waits until every node is Ready in its cluster's API server.", s.allNodesAreReady},
		{"When", `^systemd-networkd restarts on (\d+(?:\.\d+)?)% of nodes in ` + where + `(?: within (\d+) (seconds?|minutes?))?$`, "When systemd-networkd restarts on 60% of nodes in all regions within 10 seconds",
			"Restarts networkd on a share of every cluster's nodes (rounded half away from zero, per cluster), each at a random instant within the window, like OnCalendar with RandomizedDelaySec. Where: all regions, all aws (gcp, azure) regions, or a region.", s.networkdRestartsOnPercent},
		{"When", `^systemd-networkd restarts on (\d+) nodes? of every (child|parent) cluster in ` + where + `(?: within (\d+) (seconds?|minutes?))?$`, "When systemd-networkd restarts on 2 nodes of every child cluster in eu1",
			"Restarts networkd on that many nodes of each matching cluster.", s.networkdRestartsOnCountPerCluster},
		{"When", `^systemd-networkd restarts on every (parent worker|parent control-plane node|child cluster node|node) in ` + where + `(?: within (\d+) (seconds?|minutes?))?$`, "When systemd-networkd restarts on every parent worker in us1",
			"Restarts networkd on every node of a kind.", s.networkdRestartsOnEvery},
		{"When", `^operators take (\d+) (seconds?|minutes?) to react$`, "When operators take 10 seconds to react",
			"Nothing is done for that long: the fleet stays degraded while the probes keep measuring.", s.operatorsTakeToReact},
		{"When", `^operators reboot the NotReady nodes in order, (\d+) at a time:$`, "When operators reboot the NotReady nodes in order, 4 at a time:\n  | parent control-plane nodes |\n  | parent workers             |\n  | child cluster nodes        |",
			"Reboots the broken nodes of each group (observed NotReady, or broken while their control plane could not tell), a group only once the previous group's reboots have finished and its nodes are Ready again, as operators waited for the parent control planes in 2023 (they wait up to 3 minutes, then go on and the step fails).", s.operatorsRebootInOrder},
		{"When", `^the auto-scaling group of ([a-z][a-z0-9-]*) scales up by (\d+) nodes?$`, "When the auto-scaling group of us1-app1 scales up by 20 nodes",
			"Launches that many new nodes into the cluster at once, each through the registration pipeline. Returns once every instance runs.", s.autoScalingGroupScalesUp},
		{"Then", `^within (\d+) (seconds?|minutes?) at least (\d+(?:\.\d+)?)% of nodes are NotReady$`, "Then within 15 seconds at least 55% of nodes are NotReady",
			"At some instant within the time after the fault started, at least that share of all nodes was NotReady at once.", s.withinAtLeastNotReady},
		{"Then", `^every region has NotReady nodes$`, "Then every region has NotReady nodes",
			"Since the fault started, every region had at least one NotReady node.", s.everyRegionHasNotReadyNodes},
		{"Then", `^the control plane of every child cluster in (all regions|[a-z][a-z0-9-]*) is unreachable$`, "Then the control plane of every child cluster in us1 is unreachable",
			"Within 15 seconds of the fault, every child cluster's API server there stopped answering.", s.childControlPlanesUnreachable},
		{"Then", `^within (\d+) (seconds?|minutes?) every child cluster node in (all regions|[a-z][a-z0-9-]*) is NotReady$`, "Then within 15 seconds every child cluster node in us1 is NotReady",
			"Within the time after the fault, every node of the region's child clusters was NotReady at once, or could not be vouched for because its control plane was unreachable.", s.everyChildNodeNotReady},
		{"Then", `^no child cluster node in (all regions|[a-z][a-z0-9-]*) was hit by the fault$`, "Then no child cluster node in us1 was hit by the fault",
			"The fault selected no node of a child cluster there: whatever broke there broke through the hierarchy.", s.noChildNodeHit},
		{"Then", `^"([a-z][a-z0-9-]*)" keeps serving at least (\d+(?:\.\d+)?)% of requests in every region$`, `Then "metrics-intake" keeps serving at least 35% of requests in every region`,
			"Since the fault started, in every region and in every 2-second stretch, at least that share of the probe's requests to the service succeeded.", s.keepsServingInEveryRegion},
		{"Then", `^"([a-z][a-z0-9-]*)" is unavailable in at least one child cluster$`, `Then "tag-index" is unavailable in at least one child cluster`,
			"Within 30 seconds of the fault, some child cluster's replicas answered no request for 2 seconds running.", s.unavailableInSomeChildCluster},
		{"Then", `^"([a-z][a-z0-9-]*)" serves at least (\d+(?:\.\d+)?)% of requests within (\d+) (seconds?|minutes?) after all nodes are Ready$`, `Then "metrics-intake" serves at least 99.5% of requests within 30 seconds after all nodes are Ready`,
			"Measured over the last 5 seconds before that deadline, counted from the moment the last node became Ready.", s.servesAfterAllReady},
		{"Then", `^at least (\d+(?:\.\d+)?)% of replaced nodes in ([a-z][a-z0-9-]*) stay Unready for at least (\d+) (seconds?|minutes?)$`, "Then at least 90% of replaced nodes in us1 stay Unready for at least 60 seconds",
			"Of the nodes the region's auto-scaling groups launched as replacements, that share had a Node object that was not Ready for that long. Waits until it is decided.", s.replacedStayUnready},
		{"Then", `^more than (\d+(?:\.\d+)?)% of (RunInstances|DescribeInstances|CreateNetworkInterface|TerminateInstances|IssuerLogin) calls in ([a-z][a-z0-9-]*) were throttled$`, "Then more than 99% of CreateNetworkInterface calls in us1 were throttled",
			"Of every call to that API in the region so far, more than that share was refused by its token bucket.", s.callsThrottled},
		{"Then", `^the certificate issuer in ([a-z][a-z0-9-]*) shed at least (\d+) requests?$`, "Then the certificate issuer in us1 shed at least 10 requests",
			"The issuer refused at least that many logins for being at its concurrency limit.", s.issuerShed},
		{"Then", `^(?:after|within) (\d+) (seconds?|minutes?) at least (\d+(?:\.\d+)?)% of new nodes in ([a-z][a-z0-9-]*) are still Unregistered$`, "Then after 5 seconds at least 50% of new nodes in us1 are still Unregistered",
			"That long after this step starts, at least that share of the nodes launched by scale-ups had no Node object yet: they were queued for a certificate.", s.newNodesStillUnregistered},
		{"Then", `^every (replaced|new) node in ([a-z][a-z0-9-]*) is Ready within (\d+) (seconds?|minutes?)$`, "Then every replaced node in us1 is Ready within 3 minutes",
			"Every node launched as a replacement (or, for new, by a scale-up) was Ready within the time after its auto-scaling group decided to launch it.", s.launchedReadyWithin},
		{"Then", `^all nodes are Ready within (\d+) (seconds?|minutes?)$`, "Then all nodes are Ready within 2 minutes",
			"From this step on, every node is Ready at once before the time runs out.", s.allNodesReadyWithin},
		{"Then", `^for (\d+) (seconds?|minutes?) no node becomes NotReady$`, "Then for 20 seconds no node becomes NotReady",
			"Watches for that long; any node seen NotReady fails the step.", s.noNodeNotReadyFor},
		{"Then", `^nodes became Ready in this order:$`, "Then nodes became Ready in this order:\n  | parent control-plane nodes |\n  | parent workers             |\n  | child cluster nodes        |",
			"After the fault, in every region, each disrupted node of a group was Ready again before any disrupted node of a later group. A node counts as disrupted while it was NotReady, or while its control plane could not be reached.", s.nodesBecameReadyInOrder},
		{"Then", `^nodes became Ready in this order, with a tolerance of (\d+) (seconds?|minutes?):$`, "Then nodes became Ready in this order, with a tolerance of 2 seconds:\n  | parent workers      |\n  | child cluster nodes |",
			"As above, but a later group may start recovering up to the tolerance before an earlier group has finished.", s.nodesBecameReadyInOrderWithTolerance},
		{"Then", `^the ` + groupNames + ` recovered within (\d+) (seconds?|minutes?) of the fault$`, "Then the parent workers recovered within 1 minute of the fault",
			"Every node of the group that the fault disrupted was Ready again within the time after the fault started (time to recover).", s.groupRecoveredWithin},
	}
}

// register adds every phrase of the library to sc.
func register(sc *godog.ScenarioContext) {
	for _, p := range Library() {
		sc.Step(p.Pattern, p.handler)
	}
}

// Groups lists the group names the order tables accept.
func Groups() []string { return slices.Clone(groupOrder) }

// WriteMarkdown writes the step reference (docs/steps.md).
func WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("# Step reference\n\n")
	b.WriteString("Generated by `aftershock steps --markdown` from the step library (steps/library.go); `make test` fails if this file drifts.\n\n")
	b.WriteString("Durations are `N second(s)` or `N minute(s)`. Regions are names from the fleet table, or `all regions`.\n")
	fmt.Fprintf(&b, "Order tables take one group per row: %s.\n", strings.Join(quoteAll(Groups()), ", "))
	for _, p := range Library() {
		fmt.Fprintf(&b, "\n## %s %s\n\n%s\n\n```gherkin\n%s\n```\n\nPattern: `%s`\n", p.Keyword, title(p.Example), p.Doc, p.Example, p.Pattern)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteText writes the phrases for `aftershock steps`.
func WriteText(w io.Writer) error {
	for _, p := range Library() {
		if _, err := fmt.Fprintf(w, "%s\n    %s\n\n", p.Pattern, strings.ReplaceAll(p.Example, "\n", "\n    ")); err != nil {
			return err
		}
	}
	return nil
}

func title(example string) string {
	first, _, _ := strings.Cut(example, "\n")
	_, rest, _ := strings.Cut(first, " ")
	return rest
}

func quoteAll(items []string) []string {
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = `"` + s + `"`
	}
	return out
}

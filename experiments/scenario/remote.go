package scenario

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/vishvananda/netlink"

	"github.com/aftershock-sre/aftershock/experiments/fault"
	"github.com/aftershock-sre/aftershock/experiments/journal"
	"github.com/aftershock-sre/aftershock/infra"
	"github.com/aftershock-sre/aftershock/infra/terraform"
)

// remoteNetworkd is a fleet whose nodes are reached through an exec channel
// rather than a network namespace this process can open (Terraform fleets).
type remoteNetworkd interface {
	NetworkdRestart(node, id string, spec terraform.NetworkdSpec) (*terraform.NetworkdRestart, error)
}

var _ remoteNetworkd = (*terraform.Fleet)(nil)

// networkdFault is the networkd restart for one node: through netlink on
// the node's namespace when the fleet gives one, else through the node's
// exec channel, journalled here with the command that reverts it.
func (s *Scenario) networkdFault(n infra.Node, id string) (fault.Fault, error) {
	if n.NetNSPath != "" {
		f := fault.NewNetworkdRestart(n.Name, n.NetNSPath, s.Networkd, s.journal, id)
		s.mu.Lock()
		f.Interlock = s.interlock
		s.mu.Unlock()
		if f.Interlock == nil {
			return nil, fmt.Errorf("networkd-restart on %s: no node of this run's fleet was admitted to faults", n.Name)
		}
		return f, nil
	}
	remote, ok := s.Fleet.(remoteNetworkd)
	if !ok {
		return nil, fmt.Errorf("networkd-restart on %s: the fleet gives neither a network namespace nor an exec channel", n.Name)
	}
	spec := terraform.NetworkdSpec{
		ManageForeignRoutingPolicyRules: s.Networkd.ManageForeignRoutingPolicyRules,
		ManageForeignRoutes:             s.Networkd.ManageForeignRoutes,
		ManagedLinks:                    s.Networkd.ManagedLinks,
	}
	for _, r := range s.Networkd.DeclaredRules {
		spec.DeclaredRules = append(spec.DeclaredRules, declaredRuleSpec(r))
	}
	f, err := remote.NetworkdRestart(n.Name, id, spec)
	if err != nil {
		return nil, err
	}
	f.OnStep = func(st terraform.Step) error {
		snap, err := json.Marshal(map[string]any{"version": 1, "remote": map[string]any{"revert": st.Revert}})
		if err != nil {
			return err
		}
		return s.journal.Record(journal.Entry{ID: st.ID, Fault: fault.NetworkdRestartName, Node: st.Node,
			State: st.State, Snapshot: snap, Error: st.Error})
	}
	return f, nil
}

// declaredRuleSpec renders a declared rule as `aftershock inject`'s
// --declared-rule takes it: "priority=N,table=T,from=CIDR,to=CIDR,family=F".
func declaredRuleSpec(r netlink.Rule) string {
	var parts []string
	if r.Priority >= 0 {
		parts = append(parts, fmt.Sprintf("priority=%d", r.Priority))
	}
	if r.Table > 0 {
		parts = append(parts, fmt.Sprintf("table=%d", r.Table))
	}
	if r.Src != nil {
		parts = append(parts, "from="+r.Src.String())
	}
	if r.Dst != nil {
		parts = append(parts, "to="+r.Dst.String())
	}
	if r.Family == netlink.FAMILY_V6 {
		parts = append(parts, "family=inet6")
	}
	return strings.Join(parts, ",")
}

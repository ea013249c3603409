@fix
Feature: the fixes for apt-ocalypse hold
  After 2023-03-08 two fixes shipped: systemd-networkd configured to leave
  foreign routing-policy rules alone, and Cilium installing its rules with
  protocol "kernel", which networkd never deletes. Each is a regression test:
  a networkd restart on every node must leave every node Ready.

  Background:
    Given a fleet on the lab:
      | region | cloud | parent control-plane nodes | parent workers | child clusters | nodes per child cluster |
      | eu1    | gcp   | 1                          | 1              | 1              | 3                       |

  Scenario: networkd configured with ManageForeignRoutingPolicyRules=no
    Given every node runs systemd-networkd with ManageForeignRoutingPolicyRules=no
    And all nodes are Ready
    When systemd-networkd restarts on 100% of nodes in all regions within 2 seconds
    Then for 10 seconds no node becomes NotReady

  Scenario: the CNI installs its rules with protocol kernel
    Given the CNI installs its routing-policy rules with protocol kernel
    And every node runs systemd-networkd with ManageForeignRoutingPolicyRules=yes
    And all nodes are Ready
    When systemd-networkd restarts on 100% of nodes in all regions within 2 seconds
    Then for 10 seconds no node becomes NotReady

@flagship
Feature: apt-ocalypse, the 2023-03-08 outage at lab scale
  An unattended OS patch restarted systemd-networkd on most nodes of every
  region within an hour. networkd (v249) deleted the routing-policy rules it
  had not created, which were the CNI's, and the nodes lost their network.
  Recovery had to go in order: parent control planes, then the parent
  workers that host the child control planes, then the application nodes.

  Scenario: networkd restarts on 60% of nodes in three regions on three clouds
    Given a fleet on the lab:
      | region | cloud | parent control-plane nodes | parent workers | child clusters | nodes per child cluster |
      | us1    | aws   | 1                          | 2              | 2              | 4                       |
      | eu1    | gcp   | 1                          | 2              | 2              | 4                       |
      | us3    | azure | 1                          | 2              | 2              | 4                       |
    And every node runs systemd-networkd with ManageForeignRoutingPolicyRules=yes
    And all nodes are Ready
    When systemd-networkd restarts on 60% of nodes in all regions within 10 seconds
    Then within 20 seconds at least 50% of nodes are NotReady
    And every region has NotReady nodes
    When operators reboot the NotReady nodes in order, 4 at a time:
      | parent control-plane nodes |
      | parent workers             |
      | child cluster nodes        |
    Then all nodes are Ready within 2 minutes
    And nodes became Ready in this order:
      | parent control-plane nodes |
      | parent workers             |
      | child cluster nodes        |
    And the child cluster nodes recovered within 2 minutes of the fault

@degraded
Feature: degraded mode: sharded stores degrade linearly, quorum stores go all or nothing
  In 2023 the statically sharded telemetry stores kept serving roughly in
  proportion to the nodes they had left, while the quorum-based tag index
  refused to work wherever it lost its majority. Both must come back whole.

  Scenario: a sharded and a quorum service through a networkd restart on 60% of nodes
    Given a fleet on the lab:
      | region | cloud | parent control-plane nodes | parent workers | child clusters | nodes per child cluster |
      | us1    | aws   | 1                          | 2              | 2              | 4                       |
      | eu1    | gcp   | 1                          | 2              | 2              | 4                       |
    And the "metrics-intake" service runs sharded on every child cluster
    And the "tag-index" service runs as a 3-replica quorum on every child cluster
    And all nodes are Ready
    When systemd-networkd restarts on 60% of nodes in all regions within 10 seconds
    And operators take 10 seconds to react
    Then within 20 seconds at least 50% of nodes are NotReady
    And "metrics-intake" keeps serving at least 35% of requests in every region
    And "tag-index" is unavailable in at least one child cluster
    When operators reboot the NotReady nodes in order, 4 at a time:
      | parent control-plane nodes |
      | parent workers             |
      | child cluster nodes        |
    Then all nodes are Ready within 2 minutes
    And "metrics-intake" serves at least 99.5% of requests within 30 seconds after all nodes are Ready
    And "tag-index" serves at least 99.5% of requests within 30 seconds after all nodes are Ready

@hierarchy
Feature: child clusters depend on their parent's workers
  The control planes of child clusters run on the workers of their region's
  parent cluster. Cutting those workers takes every child control plane of
  the region down, although no child node is touched.

  Scenario: networkd restarts on every parent worker of a region
    Given a fleet on the lab:
      | region | cloud | parent control-plane nodes | parent workers | child clusters | nodes per child cluster |
      | us1    | aws   | 1                          | 2              | 2              | 2                       |
    And all nodes are Ready
    When systemd-networkd restarts on every parent worker in us1
    Then the control plane of every child cluster in us1 is unreachable
    And within 15 seconds every child cluster node in us1 is NotReady
    And no child cluster node in us1 was hit by the fault
    When operators reboot the NotReady nodes in order, 2 at a time:
      | parent workers |
    Then all nodes are Ready within 1 minute

@aws @herd
Feature: us1 replacement herd: auto-scaling replacements against cloud API rate limits
  In AWS the broken nodes were not rebooted. Auto-scaling groups terminated
  them and launched new ones, and every new node had to get network
  interfaces from a rate-limited CreateNetworkInterface. The Cilium operator
  retried its whole IP-deficit pass every 10 ms with no backoff: more than 99%
  of its calls were throttled, and three clusters stayed Unready for hours.
  With exponential backoff the same fleet recovers on its own.

  The bucket starts full, and the lab launches replacements one after the
  other, so the first few to register may find three tokens waiting and get
  their interfaces before the herd forms (0 to 3 of 20 here); once any node
  fails a pass and retries every 10 ms, no other pass completes.

  Scenario: with a 10 ms retry and no backoff, the replacements stay Unready
    Given a fleet on the lab:
      | region | cloud | parent control-plane nodes | parent workers | child clusters | nodes per child cluster |
      | us1    | aws   | 1                          | 2              | 2              | 10                      |
    And auto-scaling groups in us1 replace a node after 3 failed status checks
    And the cloud API in us1 allows 40 RunInstances calls per second
    And the cloud API in us1 allows 5 CreateNetworkInterface calls per second
    And the certificate issuer in us1 serves at most 20 concurrent requests
    And the network operator retries every 10 milliseconds without backoff
    And all nodes are Ready
    When systemd-networkd restarts on every child cluster node in us1
    Then at least 75% of replaced nodes in us1 stay Unready for at least 60 seconds
    And more than 99% of CreateNetworkInterface calls in us1 were throttled

  Scenario: with exponential backoff, the same replacements turn Ready
    Given a fleet on the lab:
      | region | cloud | parent control-plane nodes | parent workers | child clusters | nodes per child cluster |
      | us1    | aws   | 1                          | 2              | 2              | 10                      |
    And auto-scaling groups in us1 replace a node after 3 failed status checks
    And the cloud API in us1 allows 40 RunInstances calls per second
    And the cloud API in us1 allows 5 CreateNetworkInterface calls per second
    And the certificate issuer in us1 serves at most 20 concurrent requests
    And the network operator retries with exponential backoff from 100 milliseconds to 5 seconds
    And all nodes are Ready
    When systemd-networkd restarts on every child cluster node in us1
    Then every replaced node in us1 is Ready within 3 minutes
    And all nodes are Ready within 1 minute

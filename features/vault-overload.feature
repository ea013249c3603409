@aws @vault
Feature: Vault overload: a scale-up queues at the certificate issuer
  On the afternoon of 2023-03-08 the scale-up that was to clear the backlog
  overloaded Vault: new nodes could not get certificates and stayed
  Unregistered. Vault was protected with a concurrency limit that shed
  requests, and raising the limits step by step drained the queue.

  Scenario: 12 new nodes against an issuer that serves one login at a time
    Given a fleet on the lab:
      | region | cloud | parent control-plane nodes | parent workers | child clusters | nodes per child cluster |
      | us1    | aws   | 1                          | 1              | 1              | 2                       |
    And the cloud API in us1 allows 50 RunInstances calls per second
    And the certificate issuer in us1 serves at most 1 concurrent request
    And the certificate issuer in us1 takes 2 seconds per login
    And all nodes are Ready
    When the auto-scaling group of us1-app1 scales up by 12 nodes
    Then after 5 seconds at least 50% of new nodes in us1 are still Unregistered
    And the certificate issuer in us1 shed at least 10 requests
    When the certificate issuer in us1 serves at most 50 concurrent requests
    Then every new node in us1 is Ready within 60 seconds

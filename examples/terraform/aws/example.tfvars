# terraform apply -var-file=example.tfvars   (after adapting it; see docs/terraform.md)
aftershock_game_day = true
region              = "us1"
aws_region          = "us-east-1"

clusters = {
  "us1-parent" = {
    eks_cluster_name = "platform-us-east-1"
    role             = "parent"
    node_groups = {
      "platform-us-east-1-control" = "control-plane"
      "platform-us-east-1-workers" = "worker"
    }
  }
  "us1-app" = {
    eks_cluster_name = "apps-us-east-1"
    role             = "child"
    parent           = "us1-parent"
    node_groups      = { "apps-us-east-1-workers" = "worker" }
  }
}

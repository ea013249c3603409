# Attaches aftershock to EKS clusters whose nodes run in auto-scaling groups,
# and describes them in the aftershock_fleet output (docs/terraform.md). It
# reads the clusters and their instances; it creates nothing. Reboot and
# terminate call the EC2 and Auto Scaling APIs (terminate lets the group
# replace the node, as in 2023); exec runs a command on the node through SSM
# (scripts/ssm-run.sh), which is how `aftershock inject` reaches the node.

data "aws_eks_cluster" "this" {
  for_each = var.clusters
  name     = each.value.eks_cluster_name
}

# The running instances of every node group, by "<cluster>/<asg>".
data "aws_instances" "group" {
  for_each = merge([
    for cluster, c in var.clusters : {
      for asg, role in c.node_groups : "${cluster}/${asg}" => { cluster = cluster, asg = asg, role = role }
    }
  ]...)

  instance_tags = {
    "aws:autoscaling:groupName" = each.value.asg
  }
  instance_state_names = ["running"]
}

data "aws_instance" "node" {
  for_each    = toset(flatten([for g in data.aws_instances.group : g.ids]))
  instance_id = each.value
}

locals {
  # EKS names a node after its private DNS name.
  dns_suffix = var.aws_region == "us-east-1" ? "ec2.internal" : "${var.aws_region}.compute.internal"

  nodes = flatten([
    for key, g in data.aws_instances.group : [
      for id in g.ids : {
        id      = id
        cluster = split("/", key)[0]
        role    = var.clusters[split("/", key)[0]].node_groups[split("/", key)[1]]
      }
    ]
  ])

  exec = [abspath("${path.module}/scripts/ssm-run.sh"), var.aws_region]
}

output "aftershock_fleet" {
  description = "These EKS clusters as an aftershock fleet inventory (docs/terraform.md)."
  value = {
    version            = 1
    name               = "aws-${var.region}"
    game_day           = var.aftershock_game_day
    max_blast_radius   = var.max_blast_radius
    aftershock_command = var.aftershock_command

    actions = {
      reboot    = ["aws", "ec2", "reboot-instances", "--region", var.aws_region, "--instance-ids", "{{id}}"]
      terminate = ["aws", "autoscaling", "terminate-instance-in-auto-scaling-group", "--region", var.aws_region, "--instance-id", "{{id}}", "--no-should-decrement-desired-capacity"]
      exec      = concat(local.exec, ["{{id}}", "--"])
    }

    regions = [{ name = var.region, cloud = "aws" }]

    clusters = [
      for name, c in var.clusters : {
        name   = name
        region = var.region
        role   = c.role
        parent = c.parent
        kubeconfig = yamlencode({
          apiVersion      = "v1"
          kind            = "Config"
          current-context = name
          clusters = [{
            name    = name
            cluster = { server = data.aws_eks_cluster.this[name].endpoint, certificate-authority-data = data.aws_eks_cluster.this[name].certificate_authority[0].data }
          }]
          contexts = [{ name = name, context = { cluster = name, user = name } }]
          users = [{
            name = name
            user = { exec = {
              apiVersion = "client.authentication.k8s.io/v1beta1"
              command    = "aws"
              args       = ["eks", "get-token", "--region", var.aws_region, "--cluster-name", c.eks_cluster_name, "--output", "json"]
            } }
          }]
        })
      }
    ]

    nodes = [
      for n in local.nodes : {
        id      = n.id
        name    = "ip-${replace(data.aws_instance.node[n.id].private_ip, ".", "-")}.${local.dns_suffix}"
        region  = var.region
        cluster = n.cluster
        role    = n.role
        address = data.aws_instance.node[n.id].private_ip
        labels = {
          "topology.kubernetes.io/zone"      = data.aws_instance.node[n.id].availability_zone
          "node.kubernetes.io/instance-type" = data.aws_instance.node[n.id].instance_type
        }
      }
    ]
  }
}

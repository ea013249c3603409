variable "aftershock_game_day" {
  description = "Marks this working dir or workspace for game days: aftershock applies, destroys and injects only where this is true."
  type        = bool
  default     = false
}

variable "region" {
  description = "aftershock's name for this failure domain (a DNS label, e.g. us1); node labels keep the AWS region."
  type        = string
}

variable "aws_region" {
  description = "The AWS region the clusters run in, e.g. us-east-1."
  type        = string
}

variable "clusters" {
  description = <<-EOT
    The EKS clusters to disrupt, by aftershock cluster name. role is parent or child; a child names
    its parent. node_groups maps each auto-scaling group of the cluster to the node role of its
    instances (worker, or control-plane for self-managed control planes).
  EOT
  type = map(object({
    eks_cluster_name = string
    role             = string
    parent           = optional(string)
    node_groups      = map(string)
  }))
}

variable "aftershock_command" {
  description = "The argv that runs aftershock on a node (SSM runs commands as root)."
  type        = list(string)
  default     = ["/usr/local/bin/aftershock"]
}

variable "max_blast_radius" {
  description = "The largest share of nodes one fault may hit; aftershock's default cap (0.34) applies when it is higher."
  type        = number
  default     = 0.34
}

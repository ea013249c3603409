variable "aftershock_game_day" {
  description = "Marks this working dir or workspace for game days: aftershock applies, destroys and injects only where this is true."
  type        = bool
  default     = false
}

variable "project" {
  description = "The Google Cloud project of the clusters."
  type        = string
}

variable "region" {
  description = "aftershock's name for this failure domain (a DNS label, e.g. eu1); node labels keep the GCP region."
  type        = string
}

variable "gcp_region" {
  description = "The GCP region (location) the GKE clusters run in, e.g. europe-west1."
  type        = string
}

variable "clusters" {
  description = <<-EOT
    The GKE clusters to disrupt, by aftershock cluster name. role is parent or child; a child names
    its parent. control_plane_pools names node pools whose nodes count as control-plane nodes
    (self-hosted control planes); every other pool's nodes are workers.
  EOT
  type = map(object({
    gke_cluster_name    = string
    role                = string
    parent              = optional(string)
    control_plane_pools = optional(list(string), [])
  }))
}

variable "aftershock_command" {
  description = "The argv that runs aftershock on a node."
  type        = list(string)
  default     = ["sudo", "/usr/local/bin/aftershock"]
}

variable "max_blast_radius" {
  description = "The largest share of nodes one fault may hit; aftershock's default cap (0.34) applies when it is higher."
  type        = number
  default     = 0.34
}

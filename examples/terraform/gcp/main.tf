# Attaches aftershock to GKE clusters, whose node pools are managed instance
# groups, and describes them in the aftershock_fleet output
# (docs/terraform.md). It reads the clusters and their instances; it creates
# nothing. Reboot resets the VM, terminate deletes it (the group recreates
# it), and exec runs a command on the node over IAP-tunnelled SSH, which is how
# `aftershock inject` reaches the node.

data "google_container_cluster" "this" {
  for_each = var.clusters
  name     = each.value.gke_cluster_name
  location = var.gcp_region
}

locals {
  # Every node pool's instance groups, by "<cluster>/<pool>/<n>". A pool
  # lists the URLs of its instance group managers; the instance group of
  # the same name lists the instances.
  groups = merge([
    for cluster, c in data.google_container_cluster.this : merge([
      for pool in c.node_pool : {
        for i, url in pool.managed_instance_group_urls : "${cluster}/${pool.name}/${i}" => {
          cluster = cluster
          role    = contains(var.clusters[cluster].control_plane_pools, pool.name) ? "control-plane" : "worker"
          url     = replace(url, "instanceGroupManagers", "instanceGroups")
        }
      }
    ]...)
  ]...)
}

data "google_compute_instance_group" "pool" {
  for_each  = local.groups
  self_link = each.value.url
}

locals {
  members = flatten([
    for key, g in data.google_compute_instance_group.pool : [
      for link in g.instances : { link = link, cluster = local.groups[key].cluster, role = local.groups[key].role }
    ]
  ])
}

data "google_compute_instance" "node" {
  for_each  = { for m in local.members : m.link => m }
  self_link = each.key
}

output "aftershock_fleet" {
  description = "These GKE clusters as an aftershock fleet inventory (docs/terraform.md)."
  value = {
    version            = 1
    name               = "gcp-${var.region}"
    game_day           = var.aftershock_game_day
    max_blast_radius   = var.max_blast_radius
    aftershock_command = var.aftershock_command

    regions = [{ name = var.region, cloud = "gcp" }]

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
            cluster = { server = "https://${data.google_container_cluster.this[name].endpoint}", certificate-authority-data = data.google_container_cluster.this[name].master_auth[0].cluster_ca_certificate }
          }]
          contexts = [{ name = name, context = { cluster = name, user = name } }]
          users = [{
            name = name
            user = { exec = {
              apiVersion         = "client.authentication.k8s.io/v1beta1"
              command            = "gke-gcloud-auth-plugin"
              provideClusterInfo = true
            } }
          }]
        })
      }
    ]

    # The zone differs per node, so every node carries its own actions.
    nodes = [
      for m in local.members : {
        id      = data.google_compute_instance.node[m.link].instance_id
        name    = data.google_compute_instance.node[m.link].name
        region  = var.region
        cluster = m.cluster
        role    = m.role
        address = data.google_compute_instance.node[m.link].network_interface[0].network_ip
        labels = {
          "topology.kubernetes.io/zone"      = data.google_compute_instance.node[m.link].zone
          "node.kubernetes.io/instance-type" = data.google_compute_instance.node[m.link].machine_type
        }
        actions = {
          reboot    = ["gcloud", "compute", "instances", "reset", "{{name}}", "--project", var.project, "--zone", data.google_compute_instance.node[m.link].zone, "--quiet"]
          terminate = ["gcloud", "compute", "instances", "delete", "{{name}}", "--project", var.project, "--zone", data.google_compute_instance.node[m.link].zone, "--quiet"]
          exec      = ["gcloud", "compute", "ssh", "{{name}}", "--project", var.project, "--zone", data.google_compute_instance.node[m.link].zone, "--tunnel-through-iap", "--quiet", "--command", "{{command}}"]
        }
      }
    ]
  }
}

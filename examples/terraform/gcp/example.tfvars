# terraform apply -var-file=example.tfvars   (after adapting it; see docs/terraform.md)
aftershock_game_day = true
project             = "my-platform-prod"
region              = "eu1"
gcp_region          = "europe-west1"

clusters = {
  "eu1-parent" = {
    gke_cluster_name    = "platform-europe-west1"
    role                = "parent"
    control_plane_pools = ["control"]
  }
  "eu1-app" = {
    gke_cluster_name = "apps-europe-west1"
    role             = "child"
    parent           = "eu1-parent"
  }
}

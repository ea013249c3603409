# The root module CI applies: an embedded aftershock lab through Terraform,
# with no provider to download. aftershock's Terraform provider passes each
# scenario's fleet as topology_file:
#
#   aftershock run features/apt-ocalypse.feature --infra terraform \
#     --tf-dir examples/terraform/lab --tf-apply --tf-destroy --tf-topology-var topology_file \
#     --tf-var aftershock=$PWD/bin/aftershock --tf-var aftershock_game_day=true
#
# or by hand: terraform apply -var aftershock_game_day=true -var preset=tiny

variable "aftershock_game_day" {
  description = "Marks this working dir for game days (docs/terraform.md)."
  type        = bool
  default     = false
}

variable "aftershock" {
  description = "The aftershock executable."
  type        = string
  default     = "aftershock"
}

variable "topology_file" {
  description = "A topology YAML file (aftershock lab up --topology)."
  type        = string
  default     = null
}

variable "preset" {
  description = "A preset topology, when no topology_file is given."
  type        = string
  default     = null
}

module "lab" {
  source              = "../../../infra/terraform/modules/lab"
  aftershock_game_day = var.aftershock_game_day
  aftershock          = var.aftershock
  topology_file       = var.topology_file
  preset              = var.preset
}

output "aftershock_fleet" {
  value = module.lab.aftershock_fleet
}

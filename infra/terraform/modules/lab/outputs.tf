# The inventory contract (docs/terraform.md): `aftershock lab inventory`
# describes the running lab, with reboot, terminate and exec actions that call
# `aftershock lab reboot|terminate|exec`; the game-day mark is this working
# dir's own.
output "aftershock_fleet" {
  description = "The lab as an aftershock fleet inventory (docs/terraform.md)."
  value = fileexists(terraform_data.lab.output.inventory) ? merge(
    jsondecode(file(terraform_data.lab.output.inventory)),
    { game_day = var.aftershock_game_day },
  ) : null
}

output "run_id" {
  description = "The lab's run ID: aftershock lab status --run RUN_ID."
  value       = terraform_data.lab.output.run_id
}

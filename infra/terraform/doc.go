// Package terraform provides real fleets through Terraform: it drives a
// module with hashicorp/terraform-exec (init, plan, apply, output, destroy),
// reads the fleet from the module's `aftershock_fleet` output (the inventory
// contract of docs/terraform.md), validates it strictly, and acts on nodes only
// through the argv the module declares for reboot, terminate and exec. It
// applies or destroys only in a working dir or workspace marked for game days
// (the variable aftershock_game_day), and tells callers the default blast-radius
// cap of such fleets. It never imports the experiment engine: the networkd
// fault it offers runs `aftershock inject` on the node through its exec argv.
package terraform

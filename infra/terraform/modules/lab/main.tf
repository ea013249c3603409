# An embedded aftershock lab as a Terraform resource, with nothing but the
# built-in terraform_data resource and local-exec provisioners: `terraform
# init` downloads no provider, so CI applies it offline. Creating the resource
# runs `aftershock lab up`, destroying it runs `aftershock lab down`, and the
# aftershock_fleet output is the lab's inventory (see docs/terraform.md).
# The machine that applies it must be able to run the lab: root, etcd and the
# Kubernetes binaries (make deps).

locals {
  run_id    = coalesce(var.run_id, "tf${substr(sha1("${abspath(path.root)}/${terraform.workspace}"), 0, 8)}")
  state_dir = "${var.state_root}/${local.run_id}"
  topology  = var.topology_file != null ? abspath(var.topology_file) : ""
}

resource "terraform_data" "lab" {
  # A new run, topology or state root is a new lab: down, then up.
  triggers_replace = {
    run_id     = local.run_id
    state_root = var.state_root
    topology   = var.topology_file != null ? filesha256(var.topology_file) : "preset:${var.preset != null ? var.preset : ""}"
  }

  input = {
    aftershock = var.aftershock
    run_id     = local.run_id
    state_root = var.state_root
    topology   = local.topology
    preset     = var.preset != null ? var.preset : ""
    inventory  = "${local.state_dir}/inventory.json"
  }

  lifecycle {
    precondition {
      condition     = (var.topology_file == null) != (var.preset == null)
      error_message = "Give exactly one of topology_file and preset."
    }
  }

  provisioner "local-exec" {
    interpreter = ["/bin/sh", "-c"]
    command     = <<-EOT
      set -eu
      if [ -n "$TOPOLOGY" ]; then shape="--topology=$TOPOLOGY"; else shape="--preset=$PRESET"; fi
      "$AFTERSHOCK" lab up --detach --state-root "$STATE_ROOT" --run "$RUN_ID" "$shape"
      "$AFTERSHOCK" lab inventory --state-root "$STATE_ROOT" --run "$RUN_ID" > "$INVENTORY.tmp"
      mv "$INVENTORY.tmp" "$INVENTORY"
    EOT
    environment = {
      AFTERSHOCK = self.input.aftershock
      RUN_ID     = self.input.run_id
      STATE_ROOT = self.input.state_root
      TOPOLOGY   = self.input.topology
      PRESET     = self.input.preset
      INVENTORY  = self.input.inventory
    }
  }

  provisioner "local-exec" {
    when        = destroy
    interpreter = ["/bin/sh", "-c"]
    command     = "\"$AFTERSHOCK\" lab down --state-root \"$STATE_ROOT\" --run \"$RUN_ID\""
    environment = {
      AFTERSHOCK = self.input.aftershock
      RUN_ID     = self.input.run_id
      STATE_ROOT = self.input.state_root
    }
  }
}

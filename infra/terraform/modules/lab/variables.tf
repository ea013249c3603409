variable "aftershock_game_day" {
  description = "Marks this working dir or workspace for game days. aftershock applies and destroys only where this is true in the plan."
  type        = bool
  default     = false
}

variable "aftershock" {
  description = "The aftershock executable that brings the lab up and down (a path, or a name on PATH)."
  type        = string
  default     = "aftershock"
}

variable "topology_file" {
  description = "A topology YAML file for the lab (aftershock lab up --topology). Give this or preset."
  type        = string
  default     = null
}

variable "preset" {
  description = "A preset topology for the lab (aftershock lab up --preset): tiny, two-regions or three-regions. Give this or topology_file."
  type        = string
  default     = null
}

variable "run_id" {
  description = "The lab's run ID: 1 to 12 lowercase letters or digits. Default: derived from the working dir and workspace."
  type        = string
  default     = null

  validation {
    condition     = var.run_id == null || can(regex("^[a-z0-9]{1,12}$", var.run_id))
    error_message = "The run_id must be 1 to 12 lowercase letters or digits."
  }
}

variable "state_root" {
  description = "The folder holding each lab's working folder (aftershock lab --state-root)."
  type        = string
  default     = "/tmp/aftershock"
}

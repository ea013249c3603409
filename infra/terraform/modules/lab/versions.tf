terraform {
  # terraform_data (built in, no provider to download) arrived in Terraform 1.4;
  # OpenTofu has it from its first release.
  required_version = ">= 1.4.0"
}

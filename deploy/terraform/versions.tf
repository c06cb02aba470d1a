# Terraform and provider versions, and the remote state backend.
#
# The backend is configured at `terraform init` time (partial configuration), so the
# same code works for every account:
#
#   terraform init -backend-config="bucket=<state bucket>" \
#                  -backend-config="key=llmroute/terraform.tfstate" \
#                  -backend-config="region=ap-northeast-1"
#
# docs/deploy.md shows how to create the state bucket once per account.

terraform {
  required_version = ">= 1.10.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }

  backend "s3" {
    encrypt      = true
    use_lockfile = true
  }
}

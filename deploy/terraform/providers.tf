# The AWS provider: one region, and tags applied to every resource that takes them.

provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  tags = merge(
    {
      Project     = var.name
      Environment = var.environment
      ManagedBy   = "terraform"
    },
    var.tags,
  )

  # HTTPS is on when a domain (ACM certificate created here) or an existing certificate is given.
  https_enabled = var.domain_name != "" || var.certificate_arn != ""

  # The public URL of the service, for outputs and the smoke test.
  public_host = var.domain_name != "" ? var.domain_name : aws_lb.app.dns_name
  public_url  = "${local.https_enabled ? "https" : "http"}://${local.public_host}"

  container_name = "llmroute"
  log_group_name = "/ecs/${var.name}"
}

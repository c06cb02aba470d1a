# The VPC: public subnets for the ALB, private subnets for the tasks, database and cache
# subnets (private, with their subnet groups), and NAT for the tasks' outbound calls to
# Azure OpenAI and ECR.

locals {
  # 10.0.0.0/16 -> private 10.0.0.0/20.., public 10.0.48.0/24.., database 10.0.52.0/24.., cache 10.0.56.0/24..
  private_subnets     = [for i in range(3) : cidrsubnet(var.vpc_cidr, 4, i)]
  public_subnets      = [for i in range(3) : cidrsubnet(var.vpc_cidr, 8, 48 + i)]
  database_subnets    = [for i in range(3) : cidrsubnet(var.vpc_cidr, 8, 52 + i)]
  elasticache_subnets = [for i in range(3) : cidrsubnet(var.vpc_cidr, 8, 56 + i)]
}

module "vpc" {
  #checkov:skip=CKV_TF_1:registry module pinned to an exact version (6.0.1); the registry protocol resolves versions, not commits, and the structural test asserts the pin
  source  = "terraform-aws-modules/vpc/aws"
  version = "6.0.1"

  name = var.name
  cidr = var.vpc_cidr
  azs  = var.azs

  private_subnets     = local.private_subnets
  public_subnets      = local.public_subnets
  database_subnets    = local.database_subnets
  elasticache_subnets = local.elasticache_subnets

  create_database_subnet_group    = true
  create_elasticache_subnet_group = true

  enable_nat_gateway     = var.enable_nat_gateway
  single_nat_gateway     = !var.one_nat_gateway_per_az
  one_nat_gateway_per_az = var.one_nat_gateway_per_az

  enable_dns_hostnames = true
  enable_dns_support   = true

  tags = local.tags
}

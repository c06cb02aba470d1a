# Security groups. The tasks' group is created by the ECS module; here are the ALB's,
# the database's and the cache's, each opened only to the group that must reach it.

locals {
  tasks_security_group_id = module.ecs.services["app"].security_group_id
}

resource "aws_security_group" "alb" {
  name        = "${var.name}-alb"
  description = "llmroute ALB: HTTP/HTTPS from the internet, to the tasks only"
  vpc_id      = module.vpc.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "alb_http" {
  #checkov:skip=CKV_AWS_260:port 80 only redirects to HTTPS when a domain is set; without one it is the documented non-production mode
  for_each = toset(var.alb_ingress_cidrs)

  security_group_id = aws_security_group.alb.id
  description       = "HTTP (redirects to HTTPS when a domain is set)"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each = local.https_enabled ? toset(var.alb_ingress_cidrs) : toset([])

  security_group_id = aws_security_group.alb.id
  description       = "HTTPS"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "alb_to_tasks" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To the llmroute tasks"
  ip_protocol                  = "tcp"
  from_port                    = var.container_port
  to_port                      = var.container_port
  referenced_security_group_id = local.tasks_security_group_id
}

resource "aws_security_group" "db" {
  name        = "${var.name}-db"
  description = "llmroute PostgreSQL: only from the llmroute tasks"
  vpc_id      = module.vpc.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "db_from_tasks" {
  security_group_id            = aws_security_group.db.id
  description                  = "PostgreSQL from the llmroute tasks"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = local.tasks_security_group_id
}

resource "aws_security_group" "redis" {
  name        = "${var.name}-redis"
  description = "llmroute Redis: only from the llmroute tasks"
  vpc_id      = module.vpc.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "redis_from_tasks" {
  security_group_id            = aws_security_group.redis.id
  description                  = "Redis from the llmroute tasks"
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
  referenced_security_group_id = local.tasks_security_group_id
}

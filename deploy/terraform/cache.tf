# ElastiCache Redis 7: private subnets, encrypted at rest and in transit (rediss://),
# AUTH token, reachable only from the tasks.

resource "random_password" "redis" {
  length  = 48
  special = false
}

resource "aws_elasticache_replication_group" "redis" {
  #checkov:skip=CKV2_AWS_50:one cache node keeps the stack within budget; losing Redis only turns caching off, it never fails a request
  #checkov:skip=CKV_AWS_191:encrypted at rest with the AWS-managed key; a customer-managed KMS key costs extra
  replication_group_id = var.name
  description          = "llmroute response cache and rate-limit counters"

  engine               = "redis"
  engine_version       = var.redis_engine_version
  node_type            = var.redis_node_type
  num_cache_clusters   = 1
  port                 = 6379
  parameter_group_name = "default.redis7"

  subnet_group_name  = module.vpc.elasticache_subnet_group_name
  security_group_ids = [aws_security_group.redis.id]

  at_rest_encryption_enabled = true
  transit_encryption_enabled = true
  auth_token                 = random_password.redis.result
  auth_token_update_strategy = "ROTATE"

  automatic_failover_enabled = false
  snapshot_retention_limit   = 1
  auto_minor_version_upgrade = true
  apply_immediately          = true
}

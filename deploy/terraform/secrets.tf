# Secrets Manager: everything the task reads as a secret. Terraform writes the values it
# knows (DATABASE_URL, REDIS_URL, the master key, a starting config); the Azure API key
# is filled in by hand (docs/deploy.md). Values changed by hand are kept: Terraform
# ignores later changes of the config and the Azure key.

resource "random_password" "master_key" {
  length  = 48
  special = false
}

resource "aws_secretsmanager_secret" "config_yaml" {
  #checkov:skip=CKV_AWS_149:encrypted with the AWS-managed key; a customer-managed KMS key costs extra and needs kms:Decrypt on the execution role
  #checkov:skip=CKV2_AWS_57:the config is not a credential; it references the credentials through os.environ
  name_prefix             = "${var.name}/config-yaml-"
  description             = "llmroute config.yaml (LLMROUTE_CONFIG_YAML)"
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret_version" "config_yaml" {
  secret_id = aws_secretsmanager_secret.config_yaml.id
  secret_string = templatefile("${path.module}/templates/config.yaml.tftpl", {
    azure_deployment          = var.azure_deployment
    azure_api_version         = var.azure_api_version
    graceful_shutdown_seconds = var.graceful_shutdown_seconds
  })

  lifecycle {
    ignore_changes = [secret_string]
  }
}

resource "aws_secretsmanager_secret" "database_url" {
  #checkov:skip=CKV_AWS_149:encrypted with the AWS-managed key; a customer-managed KMS key costs extra and needs kms:Decrypt on the execution role
  #checkov:skip=CKV2_AWS_57:rotating the RDS password needs a rotation Lambda; rotate by tainting random_password.db and applying
  name_prefix             = "${var.name}/database-url-"
  description             = "llmroute DATABASE_URL (postgres://..., sslmode=require)"
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret_version" "database_url" {
  secret_id     = aws_secretsmanager_secret.database_url.id
  secret_string = "postgres://${var.db_username}:${random_password.db.result}@${aws_db_instance.postgres.address}:${aws_db_instance.postgres.port}/${var.db_name}?sslmode=require"
}

resource "aws_secretsmanager_secret" "redis_url" {
  #checkov:skip=CKV_AWS_149:encrypted with the AWS-managed key; a customer-managed KMS key costs extra and needs kms:Decrypt on the execution role
  #checkov:skip=CKV2_AWS_57:the AUTH token rotates by tainting random_password.redis and applying
  name_prefix             = "${var.name}/redis-url-"
  description             = "llmroute REDIS_URL (rediss://, in-transit encryption)"
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret_version" "redis_url" {
  secret_id     = aws_secretsmanager_secret.redis_url.id
  secret_string = "rediss://:${random_password.redis.result}@${aws_elasticache_replication_group.redis.primary_endpoint_address}:${aws_elasticache_replication_group.redis.port}"
}

resource "aws_secretsmanager_secret" "master_key" {
  #checkov:skip=CKV_AWS_149:encrypted with the AWS-managed key; a customer-managed KMS key costs extra and needs kms:Decrypt on the execution role
  #checkov:skip=CKV2_AWS_57:rotate by writing a new value and redeploying; clients must change key at the same time
  name_prefix             = "${var.name}/master-key-"
  description             = "llmroute master key (LITELLM_MASTER_KEY)"
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret_version" "master_key" {
  secret_id     = aws_secretsmanager_secret.master_key.id
  secret_string = "sk-${random_password.master_key.result}"

  lifecycle {
    ignore_changes = [secret_string]
  }
}

resource "aws_secretsmanager_secret" "azure_api_key" {
  #checkov:skip=CKV_AWS_149:encrypted with the AWS-managed key; a customer-managed KMS key costs extra and needs kms:Decrypt on the execution role
  #checkov:skip=CKV2_AWS_57:the key is issued by Azure; rotate it in Azure and put the new value here
  name_prefix             = "${var.name}/azure-api-key-"
  description             = "Azure OpenAI API key (AZURE_API_KEY): fill in after the first apply"
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret_version" "azure_api_key" {
  secret_id     = aws_secretsmanager_secret.azure_api_key.id
  secret_string = "REPLACE_ME"

  lifecycle {
    ignore_changes = [secret_string]
  }
}

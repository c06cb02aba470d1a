# What to use after apply: where the service answers, where to push the image, and the
# secrets to fill in.

output "url" {
  description = "Public URL of llmroute (https when a domain or certificate is set)."
  value       = local.public_url
}

output "alb_dns_name" {
  description = "DNS name of the load balancer."
  value       = aws_lb.app.dns_name
}

output "ecr_repository_url" {
  description = "Push the image here: <url>:<tag>."
  value       = aws_ecr_repository.app.repository_url
}

output "cluster_name" {
  description = "ECS cluster name."
  value       = module.ecs.cluster_name
}

output "service_name" {
  description = "ECS service name."
  value       = module.ecs.services["app"].name
}

output "log_group_name" {
  description = "CloudWatch log group of the llmroute container."
  value       = local.log_group_name
}

output "secret_arns" {
  description = "Secrets Manager ARNs. Fill in azure_api_key; the others are written by Terraform (config_yaml may be edited)."
  value = {
    config_yaml   = aws_secretsmanager_secret.config_yaml.arn
    azure_api_key = aws_secretsmanager_secret.azure_api_key.arn
    master_key    = aws_secretsmanager_secret.master_key.arn
    database_url  = aws_secretsmanager_secret.database_url.arn
    redis_url     = aws_secretsmanager_secret.redis_url.arn
  }
}

output "artifacts_bucket" {
  description = "S3 bucket for artefacts and ALB access logs."
  value       = aws_s3_bucket.artifacts.id
}

output "alerts_topic_arn" {
  description = "SNS topic of the alarms (confirm the e-mail subscription)."
  value       = aws_sns_topic.alerts.arn
}

output "github_deploy_role_arn" {
  description = "Role for deploy.yml (the AWS_DEPLOY_ROLE_ARN repository variable); null when github_repository is empty."
  value       = try(aws_iam_role.github_deploy[0].arn, null)
}

# Every name and size of the stack. Defaults mirror a typical LiteLLM-on-AWS deployment in
# ap-northeast-1; docs/deploy.md lists the monthly cost of each and a cheaper setting.

variable "name" {
  description = "Name prefix of every resource (ECS cluster and service, ALB, RDS, ECR repository...)."
  type        = string
  default     = "llmroute"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name))
    error_message = "name must be 2-21 characters of lowercase letters, digits and '-', starting with a letter."
  }
}

variable "environment" {
  description = "Environment tag (prod, staging...)."
  type        = string
  default     = "prod"
}

variable "region" {
  description = "AWS region of the whole stack."
  type        = string
  default     = "ap-northeast-1"
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------- network

variable "vpc_cidr" {
  description = "CIDR block of the VPC."
  type        = string
  default     = "10.0.0.0/16"
}

variable "azs" {
  description = "Availability zones (three)."
  type        = list(string)
  default     = ["ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"]
}

variable "enable_nat_gateway" {
  description = "Tasks in private subnets behind NAT (true), or in public subnets with a public IP and no NAT (false: saves about $45/month; the tasks' security group still admits only the ALB)."
  type        = bool
  default     = true
}

variable "one_nat_gateway_per_az" {
  description = "One NAT gateway per AZ (about $45/month each) instead of a single shared one."
  type        = bool
  default     = false
}

variable "alb_ingress_cidrs" {
  description = "IPv4 ranges allowed to reach the load balancer on ports 80 and 443."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

# ---------------------------------------------------------------- compute

variable "image_tag" {
  description = "Tag of the llmroute image in the ECR repository (deploy.yml passes the commit SHA)."
  type        = string
}

variable "task_cpu" {
  description = "Fargate task CPU units (1024 = 1 vCPU). llmroute idles under 20 MiB; 256 is enough for light traffic."
  type        = number
  default     = 1024
}

variable "task_memory" {
  description = "Fargate task memory in MiB. 512 is enough for llmroute."
  type        = number
  default     = 2048
}

variable "desired_count" {
  description = "Number of tasks at creation (autoscaling moves it between min and max afterwards)."
  type        = number
  default     = 1
}

variable "autoscaling_min" {
  description = "Minimum number of tasks."
  type        = number
  default     = 1
}

variable "autoscaling_max" {
  description = "Maximum number of tasks."
  type        = number
  default     = 2
}

variable "autoscaling_cpu_target" {
  description = "Average service CPU (percent) that target tracking keeps."
  type        = number
  default     = 70
}

variable "container_port" {
  description = "Port llmroute-server listens on inside the task."
  type        = number
  default     = 8000
}

variable "graceful_shutdown_seconds" {
  description = "Grace period for in-flight requests after SIGTERM; written into the config and used for the ECS stop timeout and ALB deregistration delay."
  type        = number
  default     = 30

  validation {
    condition     = var.graceful_shutdown_seconds >= 1 && var.graceful_shutdown_seconds <= 110
    error_message = "graceful_shutdown_seconds must be 1-110 (Fargate's stop timeout is at most 120 s, and 5 s more than the grace period is used)."
  }
}

variable "container_insights" {
  description = "Turn on ECS Container Insights (extra CloudWatch metrics, billed)."
  type        = bool
  default     = false
}

variable "log_retention_days" {
  description = "Retention of the container and WAF log groups."
  type        = number
  default     = 30
}

# ---------------------------------------------------------------- upstream (Azure OpenAI)

variable "azure_api_base" {
  description = "Azure OpenAI endpoint, e.g. https://my-resource.openai.azure.com (not a secret)."
  type        = string

  validation {
    condition     = can(regex("^https://", var.azure_api_base))
    error_message = "azure_api_base must be the https:// endpoint of the Azure OpenAI resource, e.g. https://my-resource.openai.azure.com."
  }
}

variable "azure_deployment" {
  description = "Azure OpenAI deployment name served as the public model gpt-4o."
  type        = string
  default     = "gpt-4o"
}

variable "azure_api_version" {
  description = "Azure OpenAI API version."
  type        = string
  default     = "2024-10-21"
}

# ---------------------------------------------------------------- database and cache

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t3.micro"
}

variable "db_allocated_storage" {
  description = "RDS storage in GB (gp3)."
  type        = number
  default     = 20
}

variable "db_engine_version" {
  description = "PostgreSQL major version."
  type        = string
  default     = "15"
}

variable "db_name" {
  description = "Database name."
  type        = string
  default     = "llmroute"
}

variable "db_username" {
  description = "Database master user name."
  type        = string
  default     = "llmroute"
}

variable "db_multi_az" {
  description = "Run RDS in Multi-AZ (doubles its cost)."
  type        = bool
  default     = false
}

variable "db_backup_retention_days" {
  description = "Days of automated RDS backups."
  type        = number
  default     = 7
}

variable "redis_node_type" {
  description = "ElastiCache node type."
  type        = string
  default     = "cache.t3.micro"
}

variable "redis_engine_version" {
  description = "Redis engine version (7.x)."
  type        = string
  default     = "7.1"
}

# ---------------------------------------------------------------- front

variable "domain_name" {
  description = "Public host name, e.g. llm.example.com. Empty: plain HTTP on the ALB's own name (not for production)."
  type        = string
  default     = ""
}

variable "route53_zone_id" {
  description = "Route53 hosted zone of domain_name: used to validate the ACM certificate and create the alias record."
  type        = string
  default     = ""
}

variable "certificate_arn" {
  description = "An existing ACM certificate ARN to use instead of creating one."
  type        = string
  default     = ""
}

variable "waf_rate_limit" {
  description = "Requests per IP per 5 minutes above which WAF blocks the IP."
  type        = number
  default     = 2000
}

# ---------------------------------------------------------------- operations

variable "alert_email" {
  description = "E-mail address for alarms and budget alerts (confirm the SNS subscription mail)."
  type        = string
}

variable "monthly_budget_usd" {
  description = "AWS Budgets monthly cost limit in USD."
  type        = number
  default     = 50
}

variable "deletion_protection" {
  description = "Protect the ALB and RDS from deletion and keep a final snapshot; set false before terraform destroy."
  type        = bool
  default     = true
}

variable "github_repository" {
  description = "owner/name of the GitHub repository allowed to deploy through OIDC. Empty: no deploy role."
  type        = string
  default     = ""
}

variable "github_environment" {
  description = "GitHub environment whose jobs may assume the deploy role."
  type        = string
  default     = "production"
}

variable "create_github_oidc_provider" {
  description = "Create the account's GitHub OIDC provider (false when the account already has one)."
  type        = bool
  default     = true
}

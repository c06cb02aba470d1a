# ECS on Fargate (terraform-aws-modules/ecs/aws v6): the cluster, the llmroute service and
# its task. v6 notes that matter here (see docs/deploy.md):
# - container definition keys are camelCase; unknown keys are silently dropped;
# - task_exec_secret_arns defaults to [], so every secret ARN is listed below;
# - the default autoscaling policies (cpu and memory) are replaced by a CPU-only one.

module "ecs" {
  #checkov:skip=CKV_TF_1:registry module pinned to an exact version (6.0.5); the registry protocol resolves versions, not commits, and the structural test asserts the pin
  source  = "terraform-aws-modules/ecs/aws"
  version = "6.0.5"

  cluster_name = var.name
  cluster_setting = [
    { name = "containerInsights", value = var.container_insights ? "enabled" : "disabled" },
  ]
  default_capacity_provider_strategy = {
    FARGATE = { weight = 100, base = 1 }
  }

  services = {
    app = {
      name          = var.name
      cpu           = var.task_cpu
      memory        = var.task_memory
      desired_count = var.desired_count

      # Private subnets behind NAT by default; public subnets with a public IP when
      # enable_nat_gateway = false (cheaper; ingress is still only from the ALB).
      subnet_ids       = var.enable_nat_gateway ? module.vpc.private_subnets : module.vpc.public_subnets
      assign_public_ip = !var.enable_nat_gateway

      load_balancer = {
        service = {
          target_group_arn = aws_lb_target_group.app.arn
          container_name   = local.container_name
          container_port   = var.container_port
        }
      }
      health_check_grace_period_seconds = 30

      deployment_circuit_breaker = {
        enable   = true
        rollback = true
      }
      deployment_minimum_healthy_percent = 100
      deployment_maximum_percent         = 200

      enable_autoscaling       = true
      autoscaling_min_capacity = var.autoscaling_min
      autoscaling_max_capacity = var.autoscaling_max
      autoscaling_policies = {
        cpu = {
          policy_type = "TargetTrackingScaling"
          target_tracking_scaling_policy_configuration = {
            predefined_metric_specification = {
              predefined_metric_type = "ECSServiceAverageCPUUtilization"
            }
            target_value       = var.autoscaling_cpu_target
            scale_in_cooldown  = 300
            scale_out_cooldown = 60
          }
        }
      }

      security_group_ingress_rules = {
        alb = {
          description                  = "llmroute port from the ALB"
          from_port                    = var.container_port
          to_port                      = var.container_port
          ip_protocol                  = "tcp"
          referenced_security_group_id = aws_security_group.alb.id
        }
      }
      security_group_egress_rules = {
        all = {
          description = "Azure OpenAI, ECR, Secrets Manager, CloudWatch (via NAT), RDS and Redis"
          ip_protocol = "-1"
          cidr_ipv4   = "0.0.0.0/0"
        }
      }

      # v6 grants no secret by default: every ARN used in `secrets` below.
      task_exec_secret_arns = [
        aws_secretsmanager_secret.config_yaml.arn,
        aws_secretsmanager_secret.database_url.arn,
        aws_secretsmanager_secret.redis_url.arn,
        aws_secretsmanager_secret.azure_api_key.arn,
        aws_secretsmanager_secret.master_key.arn,
      ]

      # Writable scratch space: the root filesystem stays read-only.
      volume = {
        tmp = {}
      }

      container_definitions = {
        llmroute = {
          image     = "${aws_ecr_repository.app.repository_url}:${var.image_tag}"
          essential = true
          user      = "65532:65532"

          portMappings = [
            {
              name          = "http"
              containerPort = var.container_port
              hostPort      = var.container_port
              protocol      = "tcp"
            },
          ]

          readonlyRootFilesystem = true
          mountPoints = [
            {
              sourceVolume  = "tmp"
              containerPath = "/tmp"
              readOnly      = false
            },
          ]

          environment = [
            { name = "PORT", value = tostring(var.container_port) },
            { name = "LLMROUTE_DATA_DIR", value = "/tmp" },
            { name = "AZURE_API_BASE", value = var.azure_api_base },
            { name = "LLMROUTE_LOG", value = "info" },
          ]

          secrets = [
            { name = "LLMROUTE_CONFIG_YAML", valueFrom = aws_secretsmanager_secret.config_yaml.arn },
            { name = "DATABASE_URL", valueFrom = aws_secretsmanager_secret.database_url.arn },
            { name = "REDIS_URL", valueFrom = aws_secretsmanager_secret.redis_url.arn },
            { name = "AZURE_API_KEY", valueFrom = aws_secretsmanager_secret.azure_api_key.arn },
            { name = "LITELLM_MASTER_KEY", valueFrom = aws_secretsmanager_secret.master_key.arn },
          ]

          healthCheck = {
            command     = ["CMD", "/usr/local/bin/llmroute", "healthcheck", "--url", "http://127.0.0.1:${var.container_port}/health"]
            interval    = 15
            timeout     = 5
            retries     = 3
            startPeriod = 10
          }

          # SIGTERM, then the server's grace period, then 5 s of margin before SIGKILL.
          stopTimeout = var.graceful_shutdown_seconds + 5

          enable_cloudwatch_logging              = true
          create_cloudwatch_log_group            = true
          cloudwatch_log_group_name              = local.log_group_name
          cloudwatch_log_group_retention_in_days = var.log_retention_days
        }
      }
    }
  }

  tags = local.tags
}

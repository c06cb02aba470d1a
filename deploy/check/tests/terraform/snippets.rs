//! Each rule must be able to fail: the real configuration with one line broken (the kind
//! of edit a reviewer could miss), and small inline snippets, must each be reported.

use std::fs;
use std::path::Path;

use crate::stack::Stack;
use crate::{modules, network, ops};

type Rule = fn(&Stack) -> Vec<String>;

/// The real configuration with `from` replaced by `to` in `file` (which must contain it).
fn mutated(file: &str, from: &str, to: &str) -> Stack {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../terraform");
    let mut names: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.ends_with(".tf"))
        .collect();
    names.sort();
    let mut src = String::new();
    for name in names {
        let text =
            fs::read_to_string(dir.join(&name)).unwrap_or_else(|e| panic!("reading {name}: {e}"));
        if name == file {
            assert!(
                text.contains(from),
                "{file} no longer contains `{from}`: update this test"
            );
            src.push_str(&text.replacen(from, to, 1));
        } else {
            src.push_str(&text);
        }
        src.push('\n');
    }
    Stack::parse(file, &src).unwrap_or_else(|e| panic!("{e}"))
}

/// Asserts that `rule` reports a problem containing `needle` on the broken stack.
fn fails(rule: Rule, stack: &Stack, needle: &str) {
    let problems = rule(stack);
    assert!(
        problems.iter().any(|p| p.contains(needle)),
        "expected a problem containing `{needle}`, got: {problems:#?}"
    );
}

#[test]
fn public_rds_is_reported() {
    let s = mutated(
        "database.tf",
        "publicly_accessible    = false",
        "publicly_accessible    = true",
    );
    fails(
        network::rds_private_and_encrypted,
        &s,
        "publicly_accessible must be set to false",
    );
}

#[test]
fn unencrypted_rds_is_reported() {
    let s = mutated(
        "database.tf",
        "storage_encrypted     = true",
        "storage_encrypted     = false",
    );
    fails(
        network::rds_private_and_encrypted,
        &s,
        "storage_encrypted must be true",
    );
}

#[test]
fn rds_open_to_an_address_range_is_reported() {
    let s = mutated(
        "security_groups.tf",
        "description                  = \"PostgreSQL from the llmroute tasks\"",
        "description = \"PostgreSQL from anywhere\"\n  cidr_ipv4 = \"0.0.0.0/0\"",
    );
    fails(
        network::rds_private_and_encrypted,
        &s,
        "must come from a security group",
    );
}

#[test]
fn redis_without_tls_is_reported() {
    let s = mutated(
        "cache.tf",
        "transit_encryption_enabled = true",
        "transit_encryption_enabled = false",
    );
    fails(
        network::redis_private_and_encrypted,
        &s,
        "transit_encryption_enabled must be true",
    );
}

#[test]
fn bare_elasticache_cluster_and_inline_cidr_are_reported() {
    let s = Stack::parse(
        "snippet.tf",
        r#"
resource "aws_security_group" "cache" {
  ingress {
    from_port   = 6379
    to_port     = 6379
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
resource "aws_elasticache_replication_group" "r" {
  at_rest_encryption_enabled = true
  transit_encryption_enabled = true
  auth_token                 = "x"
  subnet_group_name          = "public"
  security_group_ids         = [aws_security_group.cache.id]
}
resource "aws_elasticache_cluster" "c" {
  engine = "redis"
}
"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let rule: Rule = network::redis_private_and_encrypted;
    fails(rule, &s, "inline ingress from an address range");
    fails(rule, &s, "use an aws_elasticache_replication_group");
    fails(rule, &s, "subnet_group_name must be");
}

#[test]
fn alb_without_waf_is_reported() {
    let s = mutated(
        "waf.tf",
        "resource_arn = aws_lb.app.arn",
        "resource_arn = aws_lb.other.arn",
    );
    fails(
        network::waf_on_alb,
        &s,
        "has no aws_wafv2_web_acl_association",
    );
}

#[test]
fn waf_without_known_bad_inputs_is_reported() {
    let s = mutated(
        "waf.tf",
        "\"AWSManagedRulesKnownBadInputsRuleSet\"",
        "\"AWSManagedRulesAmazonIpReputationList\"",
    );
    fails(
        network::waf_on_alb,
        &s,
        "missing managed rule group AWSManagedRulesKnownBadInputsRuleSet",
    );
}

#[test]
fn wrong_health_check_path_is_reported() {
    let s = mutated(
        "alb.tf",
        "path                = \"/health\"",
        "path                = \"/\"",
    );
    fails(
        network::health_check_path,
        &s,
        "health_check path must be \"/health\"",
    );
}

#[test]
fn ungranted_secret_is_reported() {
    let s = mutated(
        "ecs.tf",
        "        aws_secretsmanager_secret.master_key.arn,\n      ]",
        "      ]",
    );
    fails(
        modules::secrets_from_secrets_manager,
        &s,
        "task_exec_secret_arns must list aws_secretsmanager_secret.master_key.arn",
    );
}

#[test]
fn secret_from_elsewhere_is_reported() {
    let s = mutated(
        "ecs.tf",
        "valueFrom = aws_secretsmanager_secret.azure_api_key.arn",
        "valueFrom = \"arn:aws:ssm:ap-northeast-1:123456789012:parameter/azure\"",
    );
    fails(
        modules::secrets_from_secrets_manager,
        &s,
        "secret AZURE_API_KEY must come from aws_secretsmanager_secret",
    );
}

#[test]
fn credential_in_plain_environment_is_reported() {
    let s = mutated(
        "ecs.tf",
        "{ name = \"LLMROUTE_LOG\", value = \"info\" },",
        "{ name = \"LLMROUTE_LOG\", value = \"info\" },\n { name = \"AZURE_API_KEY\", value = \"abc\" },",
    );
    fails(
        modules::secrets_from_secrets_manager,
        &s,
        "AZURE_API_KEY is a credential",
    );
}

#[test]
fn database_url_without_sslmode_is_reported() {
    let s = mutated("secrets.tf", "?sslmode=require", "");
    fails(
        modules::secrets_from_secrets_manager,
        &s,
        "must contain `sslmode=require`",
    );
}

#[test]
fn floating_module_version_is_reported() {
    let s = mutated("network.tf", "version = \"6.0.1\"", "version = \"~> 6.0\"");
    fails(
        modules::module_versions_pinned,
        &s,
        "version must be an exact x.y.z pin",
    );
    fails(
        modules::module_versions_pinned,
        &s,
        "must be pinned to 6.0.1",
    );
}

#[test]
fn aws_provider_5_is_reported() {
    let s = mutated(
        "versions.tf",
        "version = \"~> 6.0\"",
        "version = \"~> 5.0\"",
    );
    fails(
        modules::module_versions_pinned,
        &s,
        "required_providers.aws.version",
    );
}

#[test]
fn v5_input_names_are_reported() {
    let s = mutated(
        "ecs.tf",
        "security_group_ingress_rules = {",
        "security_group_rules = {",
    );
    fails(modules::module_inputs_known, &s, "`security_group_rules` is not an input of a v6 service (v6 name: security_group_ingress_rules");
    let s = mutated("ecs.tf", "portMappings = [", "port_mappings = [");
    fails(modules::module_inputs_known, &s, "`port_mappings` is not an input of a v6 container definition (camelCase) (v6 name: portMappings)");
    let s = mutated("ecs.tf", "cluster_setting = [", "cluster_settings = [");
    fails(modules::module_inputs_known, &s, "`cluster_settings` is not an input of terraform-aws-modules/ecs/aws 6.0.5 (v6 name: cluster_setting)");
    let s = mutated(
        "ecs.tf",
        "referenced_security_group_id = aws_security_group.alb.id",
        "source_security_group_id = aws_security_group.alb.id",
    );
    fails(
        modules::module_inputs_known,
        &s,
        "`source_security_group_id` is not an input of a v6 security group rule",
    );
    let s = mutated(
        "network.tf",
        "single_nat_gateway     =",
        "single_nat_gateways    =",
    );
    fails(
        modules::module_inputs_known,
        &s,
        "`single_nat_gateways` is not an input of terraform-aws-modules/vpc/aws 6.0.1",
    );
}

#[test]
fn writable_root_and_short_stop_timeout_are_reported() {
    let s = mutated(
        "ecs.tf",
        "readonlyRootFilesystem = true",
        "readonlyRootFilesystem = false",
    );
    fails(
        modules::container_hardened,
        &s,
        "readonlyRootFilesystem must be true",
    );
    let s = mutated(
        "ecs.tf",
        "stopTimeout = var.graceful_shutdown_seconds + 5",
        "stopTimeout = 2",
    );
    fails(
        modules::container_hardened,
        &s,
        "stopTimeout must follow var.graceful_shutdown_seconds",
    );
    let s = mutated("ecs.tf", "rollback = true", "rollback = false");
    fails(
        modules::container_hardened,
        &s,
        "deployment_circuit_breaker must enable rollback",
    );
}

#[test]
fn budget_without_forecast_or_email_is_reported() {
    let s = mutated(
        "monitoring.tf",
        "notification_type          = \"FORECASTED\"",
        "notification_type          = \"ACTUAL\"",
    );
    fails(ops::budget_with_email, &s, "no FORECASTED notification");
    let s = mutated(
        "monitoring.tf",
        "    subscriber_email_addresses = [var.alert_email]\n  }\n}",
        "    subscriber_email_addresses = []\n  }\n}",
    );
    fails(
        ops::budget_with_email,
        &s,
        "has no subscriber_email_addresses",
    );
    let s = mutated(
        "monitoring.tf",
        "protocol  = \"email\"",
        "protocol  = \"sqs\"",
    );
    fails(
        ops::budget_with_email,
        &s,
        "no aws_sns_topic_subscription with protocol \"email\"",
    );
}

#[test]
fn missing_alarm_is_reported() {
    let s = mutated(
        "monitoring.tf",
        "metric_name         = \"FreeStorageSpace\"",
        "metric_name         = \"FreeableMemory\"",
    );
    fails(
        ops::alarms_present,
        &s,
        "no aws_cloudwatch_metric_alarm on AWS/RDS FreeStorageSpace",
    );
}

#[test]
fn empty_configuration_fails_every_rule() {
    let s = Stack::parse("empty.tf", "locals {}\n").unwrap_or_else(|e| panic!("{e}"));
    fails(
        network::rds_private_and_encrypted,
        &s,
        "no aws_db_instance found",
    );
    fails(
        network::redis_private_and_encrypted,
        &s,
        "no aws_elasticache_replication_group found",
    );
    fails(network::waf_on_alb, &s, "no internet-facing aws_lb found");
    fails(
        network::health_check_path,
        &s,
        "no aws_lb_target_group found",
    );
    fails(
        modules::secrets_from_secrets_manager,
        &s,
        "no ECS container definition found",
    );
    fails(
        modules::container_hardened,
        &s,
        "no ECS container definition found",
    );
    fails(
        modules::module_versions_pinned,
        &s,
        "no module with source terraform-aws-modules/ecs/aws",
    );
    fails(ops::budget_with_email, &s, "no aws_budgets_budget found");
    fails(
        ops::alarms_present,
        &s,
        "no aws_cloudwatch_metric_alarm on AWS/ECS CPUUtilization",
    );
}

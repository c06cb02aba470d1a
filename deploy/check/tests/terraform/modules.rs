//! The registry modules: versions pinned, no input name that v6 drops (silently, for
//! nested object attributes), and the ECS service's secrets and container settings.

use std::collections::BTreeSet;

use hcl::Expression;

use crate::stack::{attr, entries, get, is_bool, items, reference, string, text, Item, Stack};

const ECS_SOURCE: &str = "terraform-aws-modules/ecs/aws";
const VPC_SOURCE: &str = "terraform-aws-modules/vpc/aws";

/// The exact module versions this stack was written against.
const PINS: [(&str, &str); 2] = [(VPC_SOURCE, "6.0.1"), (ECS_SOURCE, "6.0.5")];

/// Meta-arguments every module block accepts.
const META: [&str; 6] = [
    "source",
    "version",
    "providers",
    "depends_on",
    "count",
    "for_each",
];

/// Keys of `security_group_ingress_rules` / `security_group_egress_rules` entries in v6.
const SG_RULE_KEYS: [&str; 9] = [
    "cidr_ipv4",
    "cidr_ipv6",
    "description",
    "from_port",
    "ip_protocol",
    "prefix_list_id",
    "referenced_security_group_id",
    "tags",
    "to_port",
];

/// v5 names with their v6 replacement, for a useful message.
const RENAMED: [(&str, &str); 12] = [
    ("cluster_settings", "cluster_setting"),
    (
        "fargate_capacity_providers",
        "default_capacity_provider_strategy",
    ),
    (
        "default_capacity_provider_use_fargate",
        "default_capacity_provider_strategy",
    ),
    (
        "security_group_rules",
        "security_group_ingress_rules / security_group_egress_rules",
    ),
    ("port_mappings", "portMappings"),
    ("readonly_root_filesystem", "readonlyRootFilesystem"),
    ("log_configuration", "logConfiguration"),
    ("health_check", "healthCheck"),
    ("mount_points", "mountPoints"),
    ("memory_reservation", "memoryReservation"),
    ("stop_timeout", "stopTimeout"),
    ("source_security_group_id", "referenced_security_group_id"),
];

fn allowed(list: &str) -> BTreeSet<&str> {
    list.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
}

fn ecs_modules(stack: &Stack) -> impl Iterator<Item = Item<'_>> {
    stack
        .modules()
        .filter(|m| string(attr(m.body, "source")) == Some(ECS_SOURCE))
}

/// Every registry module has an exact `version`; the VPC and ECS modules are present and
/// pinned to the versions above; the AWS provider is constrained to 6.x.
pub fn module_versions_pinned(stack: &Stack) -> Vec<String> {
    let mut problems = Vec::new();
    for m in stack.modules() {
        let source = string(attr(m.body, "source")).unwrap_or_default();
        if source.starts_with("./") || source.starts_with("../") {
            continue;
        }
        let version = string(attr(m.body, "version")).unwrap_or_default();
        let exact = version.split('.').count() == 3
            && version
                .split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if !exact {
            problems.push(format!(
                "{}: module.{} ({source}): version must be an exact x.y.z pin, got `{version}`",
                m.file, m.name
            ));
        }
    }
    for (source, pin) in PINS {
        match stack
            .modules()
            .find(|m| string(attr(m.body, "source")) == Some(source))
        {
            None => problems.push(format!("no module with source {source}")),
            Some(m) if string(attr(m.body, "version")) != Some(pin) => problems.push(format!(
                "module.{} ({source}) must be pinned to {pin}",
                m.name
            )),
            Some(_) => {}
        }
    }
    let aws_pin = stack
        .top("terraform")
        .flat_map(|t| {
            t.body()
                .blocks()
                .filter(|b| b.identifier() == "required_providers")
        })
        .find_map(|rp| {
            attr(rp.body(), "aws")
                .and_then(|aws| get(aws, "version"))
                .map(|v| text(Some(v)))
        });
    if aws_pin.as_deref() != Some("\"~> 6.0\"") {
        problems.push(format!(
            "required_providers.aws.version must be \"~> 6.0\", got {aws_pin:?}"
        ));
    }
    problems
}

fn unknown_keys(
    problems: &mut Vec<String>,
    place: &str,
    keys: &[(String, &Expression)],
    ok: &BTreeSet<&str>,
    what: &str,
) {
    for (key, _) in keys {
        if ok.contains(key.as_str()) {
            continue;
        }
        let hint = RENAMED
            .iter()
            .find(|(old, _)| old == key)
            .map_or_else(String::new, |(_, new)| format!(" (v6 name: {new})"));
        problems.push(format!(
            "{place}: `{key}` is not an input of {what}{hint}; Terraform would drop or reject it"
        ));
    }
}

/// No module input (top level, ECS `services`, `container_definitions`, security-group
/// rules) that the pinned v6 modules do not declare.
pub fn module_inputs_known(stack: &Stack) -> Vec<String> {
    let ecs_root = allowed(include_str!("../../allowed/ecs_root.txt"));
    let ecs_service = allowed(include_str!("../../allowed/ecs_service.txt"));
    let ecs_container = allowed(include_str!("../../allowed/ecs_container.txt"));
    let vpc_root = allowed(include_str!("../../allowed/vpc_root.txt"));
    let sg_keys: BTreeSet<&str> = SG_RULE_KEYS.into_iter().collect();
    let mut problems = Vec::new();
    for m in stack.modules() {
        let (ok, what) = match string(attr(m.body, "source")) {
            Some(ECS_SOURCE) => (&ecs_root, "terraform-aws-modules/ecs/aws 6.0.5"),
            Some(VPC_SOURCE) => (&vpc_root, "terraform-aws-modules/vpc/aws 6.0.1"),
            _ => continue,
        };
        let top: Vec<(String, &Expression)> = m
            .body
            .attributes()
            .filter(|a| !META.contains(&a.key()))
            .map(|a| (a.key().to_owned(), a.expr()))
            .collect();
        unknown_keys(
            &mut problems,
            &format!("{}: module.{}", m.file, m.name),
            &top,
            ok,
            what,
        );
        if let Some(b) = m.body.blocks().next() {
            problems.push(format!(
                "{}: module.{}: block `{}` is not a module input",
                m.file,
                m.name,
                b.identifier()
            ));
        }
    }
    for m in ecs_modules(stack) {
        let Some(services) = attr(m.body, "services") else {
            continue;
        };
        let Some(services) = entries(services) else {
            problems.push(format!(
                "module.{}: services must be an object literal to be checked",
                m.name
            ));
            continue;
        };
        for (svc, body) in services {
            let place = format!("module.{}.services.{svc}", m.name);
            let Some(keys) = entries(body) else {
                problems.push(format!("{place}: must be an object literal to be checked"));
                continue;
            };
            unknown_keys(&mut problems, &place, &keys, &ecs_service, "a v6 service");
            for rules in [
                "security_group_ingress_rules",
                "security_group_egress_rules",
            ] {
                for (rule, r) in get(body, rules).and_then(entries).unwrap_or_default() {
                    let keys = entries(r).unwrap_or_default();
                    unknown_keys(
                        &mut problems,
                        &format!("{place}.{rules}.{rule}"),
                        &keys,
                        &sg_keys,
                        "a v6 security group rule",
                    );
                }
            }
            for (name, c) in get(body, "container_definitions")
                .and_then(entries)
                .unwrap_or_default()
            {
                let keys = entries(c).unwrap_or_default();
                unknown_keys(
                    &mut problems,
                    &format!("{place}.container_definitions.{name}"),
                    &keys,
                    &ecs_container,
                    "a v6 container definition (camelCase)",
                );
            }
        }
    }
    problems
}

/// Calls `f(service path, service object, container name, container object)` for every
/// container of every ECS service; returns how many there were.
fn each_container<'a>(
    stack: &'a Stack,
    mut f: impl FnMut(&str, &'a Expression, &str, &'a Expression),
) -> usize {
    let mut n = 0;
    for m in ecs_modules(stack) {
        for (svc, body) in attr(m.body, "services")
            .and_then(entries)
            .unwrap_or_default()
        {
            for (name, c) in get(body, "container_definitions")
                .and_then(entries)
                .unwrap_or_default()
            {
                n += 1;
                f(&format!("module.{}.services.{svc}", m.name), body, &name, c);
            }
        }
    }
    n
}

/// The secrets every llmroute task needs.
const REQUIRED_SECRETS: [&str; 4] = [
    "LLMROUTE_CONFIG_YAML",
    "DATABASE_URL",
    "AZURE_API_KEY",
    "LITELLM_MASTER_KEY",
];

/// Every container secret's `valueFrom` is an `aws_secretsmanager_secret` of this stack and
/// appears in the service's `task_exec_secret_arns`; no credential in plain `environment`;
/// the URL secrets require TLS.
pub fn secrets_from_secrets_manager(stack: &Stack) -> Vec<String> {
    let mut problems = Vec::new();
    let mut names = BTreeSet::new();
    let n = each_container(stack, |place, svc, name, c| {
        let granted: BTreeSet<String> = items(get(svc, "task_exec_secret_arns"))
            .iter()
            .map(|e| e.to_string())
            .collect();
        for s in items(get(c, "secrets")) {
            let env = string(get(s, "name")).unwrap_or("?");
            names.insert(env.to_owned());
            let from = get(s, "valueFrom");
            match reference(from, "aws_secretsmanager_secret", "arn") {
                None => problems.push(format!("{place}.{name}: secret {env} must come from aws_secretsmanager_secret.<name>.arn, got `{}`", text(from))),
                Some(secret) => {
                    if !stack.has_resource("aws_secretsmanager_secret", &secret) {
                        problems.push(format!("{place}.{name}: secret {env}: aws_secretsmanager_secret.{secret} does not exist"));
                    }
                    if !granted.contains(&text(from)) {
                        problems.push(format!("{place}: task_exec_secret_arns must list {} (secret {env}); v6 grants nothing by default", text(from)));
                    }
                    problems.extend(url_needs_tls(stack, env, &secret));
                }
            }
        }
        for e in items(get(c, "environment")) {
            let env = string(get(e, "name")).unwrap_or("?");
            let upper = env.to_ascii_uppercase();
            if [
                "KEY",
                "PASSWORD",
                "TOKEN",
                "SECRET",
                "DATABASE_URL",
                "REDIS_URL",
            ]
            .iter()
            .any(|w| upper.contains(w))
            {
                problems.push(format!("{place}.{name}: {env} is a credential and must be in `secrets`, not `environment`"));
            }
        }
    });
    if n == 0 {
        problems.push("no ECS container definition found".to_owned());
    }
    for want in REQUIRED_SECRETS {
        if !names.contains(want) {
            problems.push(format!("no container reads {want} from Secrets Manager"));
        }
    }
    problems
}

/// DATABASE_URL must carry `sslmode=require` and REDIS_URL must be `rediss://`.
fn url_needs_tls(stack: &Stack, env: &str, secret: &str) -> Vec<String> {
    let need = match env {
        "DATABASE_URL" => "sslmode=require",
        "REDIS_URL" => "\"rediss://",
        _ => return Vec::new(),
    };
    let id = format!("aws_secretsmanager_secret.{secret}.id");
    let ok = stack
        .resources("aws_secretsmanager_secret_version")
        .filter(|v| text(attr(v.body, "secret_id")) == id)
        .any(|v| text(attr(v.body, "secret_string")).contains(need));
    if ok {
        Vec::new()
    } else {
        vec![format!(
            "{env}: the aws_secretsmanager_secret_version of {secret} must contain `{need}`"
        )]
    }
}

/// Container settings the issue asks for: read-only root, non-root user, a health check,
/// stop timeout tied to the server's grace period, and a rolling-back circuit breaker.
pub fn container_hardened(stack: &Stack) -> Vec<String> {
    let mut problems = Vec::new();
    let n = each_container(stack, |place, svc, name, c| {
        let at = format!("{place}.container_definitions.{name}");
        if !is_bool(get(c, "readonlyRootFilesystem"), true) {
            problems.push(format!("{at}: readonlyRootFilesystem must be true"));
        }
        let user = string(get(c, "user")).unwrap_or("");
        if user.is_empty() || user.starts_with("0") || user.starts_with("root") {
            problems.push(format!(
                "{at}: user must be a numeric non-root uid, got `{user}`"
            ));
        }
        if get(c, "healthCheck").is_none() {
            problems.push(format!("{at}: healthCheck missing"));
        }
        if !text(get(c, "stopTimeout")).contains("var.graceful_shutdown_seconds") {
            problems.push(format!(
                "{at}: stopTimeout must follow var.graceful_shutdown_seconds"
            ));
        }
        let cb = get(svc, "deployment_circuit_breaker");
        if !(cb.is_some_and(|cb| {
            is_bool(get(cb, "enable"), true) && is_bool(get(cb, "rollback"), true)
        })) {
            problems.push(format!(
                "{place}: deployment_circuit_breaker must enable rollback"
            ));
        }
    });
    if n == 0 {
        problems.push("no ECS container definition found".to_owned());
    }
    problems
}

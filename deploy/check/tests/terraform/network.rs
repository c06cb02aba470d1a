//! Network exposure: RDS and Redis private and encrypted, reachable only from security
//! groups; WAF on every internet-facing ALB; target groups checked on /health.

use crate::stack::{attr, blocks, is_bool, items, reference, string, text, Stack};

/// Every `aws_db_instance`: not publicly accessible, storage encrypted, in a database
/// subnet group, behind security groups that admit only other security groups.
pub fn rds_private_and_encrypted(stack: &Stack) -> Vec<String> {
    let mut problems = Vec::new();
    let mut found = false;
    for db in stack.resources("aws_db_instance") {
        found = true;
        let id = format!("{}: aws_db_instance.{}", db.file, db.name);
        if !is_bool(attr(db.body, "publicly_accessible"), false) {
            problems.push(format!("{id}: publicly_accessible must be set to false"));
        }
        if !is_bool(attr(db.body, "storage_encrypted"), true) {
            problems.push(format!("{id}: storage_encrypted must be true"));
        }
        let subnets = text(attr(db.body, "db_subnet_group_name"));
        if !(subnets == "module.vpc.database_subnet_group_name"
            || subnets.starts_with("aws_db_subnet_group."))
        {
            problems.push(format!(
                "{id}: db_subnet_group_name must be the VPC's database subnet group, got `{subnets}`"
            ));
        }
        problems.extend(security_groups_closed(
            stack,
            &id,
            attr(db.body, "vpc_security_group_ids"),
        ));
    }
    if !found {
        problems.push("no aws_db_instance found".to_owned());
    }
    problems
}

/// Every `aws_elasticache_replication_group`: encrypted at rest and in transit, with an
/// AUTH token, in the ElastiCache subnet group, behind closed security groups. A bare
/// `aws_elasticache_cluster` (no in-transit encryption) is refused.
pub fn redis_private_and_encrypted(stack: &Stack) -> Vec<String> {
    let mut problems = Vec::new();
    let mut found = false;
    for rg in stack.resources("aws_elasticache_replication_group") {
        found = true;
        let id = format!("{}: aws_elasticache_replication_group.{}", rg.file, rg.name);
        for key in ["at_rest_encryption_enabled", "transit_encryption_enabled"] {
            if !is_bool(attr(rg.body, key), true) {
                problems.push(format!("{id}: {key} must be true"));
            }
        }
        if attr(rg.body, "auth_token").is_none() {
            problems.push(format!("{id}: auth_token must be set"));
        }
        let subnets = text(attr(rg.body, "subnet_group_name"));
        if !(subnets == "module.vpc.elasticache_subnet_group_name"
            || subnets.starts_with("aws_elasticache_subnet_group."))
        {
            problems.push(format!("{id}: subnet_group_name must be the VPC's ElastiCache subnet group, got `{subnets}`"));
        }
        problems.extend(security_groups_closed(
            stack,
            &id,
            attr(rg.body, "security_group_ids"),
        ));
    }
    for c in stack.resources("aws_elasticache_cluster") {
        if attr(c.body, "replication_group_id").is_none() {
            problems.push(format!(
                "{}: aws_elasticache_cluster.{}: use an aws_elasticache_replication_group (in-transit encryption)",
                c.file, c.name
            ));
        }
    }
    if !found {
        problems.push("no aws_elasticache_replication_group found".to_owned());
    }
    problems
}

/// Checks that `ids` lists only `aws_security_group.X.id` and that each X admits traffic
/// only from other security groups (no CIDR, inline or as a separate rule).
fn security_groups_closed(
    stack: &Stack,
    owner: &str,
    ids: Option<&hcl::Expression>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let list = items(ids);
    if list.is_empty() {
        problems.push(format!("{owner}: no security group listed"));
    }
    for sg in list {
        let Some(name) = reference(Some(sg), "aws_security_group", "id") else {
            problems.push(format!(
                "{owner}: security group `{sg}` is not an aws_security_group of this stack"
            ));
            continue;
        };
        let target = format!("aws_security_group.{name}.id");
        for group in stack
            .resources("aws_security_group")
            .filter(|g| g.name == name)
        {
            for rule in blocks(group.body, "ingress") {
                if ["cidr_blocks", "ipv6_cidr_blocks", "prefix_list_ids"]
                    .iter()
                    .any(|k| attr(rule.body(), k).is_some())
                {
                    problems.push(format!("{owner}: aws_security_group.{name} has an inline ingress from an address range"));
                }
            }
        }
        for rule in stack.resources("aws_vpc_security_group_ingress_rule") {
            if text(attr(rule.body, "security_group_id")) != target {
                continue;
            }
            let open = ["cidr_ipv4", "cidr_ipv6", "prefix_list_id"]
                .iter()
                .any(|k| attr(rule.body, k).is_some());
            if open || attr(rule.body, "referenced_security_group_id").is_none() {
                problems.push(format!(
                    "{owner}: ingress rule {} on aws_security_group.{name} must come from a security group, not an address range",
                    rule.name
                ));
            }
        }
        for rule in stack.resources("aws_security_group_rule") {
            if text(attr(rule.body, "security_group_id")) == target
                && string(attr(rule.body, "type")) == Some("ingress")
                && attr(rule.body, "source_security_group_id").is_none()
            {
                problems.push(format!("{owner}: aws_security_group_rule.{} opens aws_security_group.{name} to an address range", rule.name));
            }
        }
    }
    problems
}

/// Every internet-facing `aws_lb` has a WAFv2 association to a regional web ACL that runs
/// the common and known-bad-inputs managed rule groups (not in count mode) and a rate rule.
pub fn waf_on_alb(stack: &Stack) -> Vec<String> {
    let mut problems = Vec::new();
    let mut found = false;
    for lb in stack.resources("aws_lb") {
        if is_bool(attr(lb.body, "internal"), true) {
            continue;
        }
        found = true;
        let want = format!("aws_lb.{}.arn", lb.name);
        let acl = stack
            .resources("aws_wafv2_web_acl_association")
            .find(|a| text(attr(a.body, "resource_arn")) == want)
            .and_then(|a| reference(attr(a.body, "web_acl_arn"), "aws_wafv2_web_acl", "arn"));
        let Some(acl) = acl else {
            problems.push(format!(
                "{}: aws_lb.{} has no aws_wafv2_web_acl_association to an aws_wafv2_web_acl",
                lb.file, lb.name
            ));
            continue;
        };
        match stack.resources("aws_wafv2_web_acl").find(|w| w.name == acl) {
            None => problems.push(format!(
                "aws_wafv2_web_acl.{acl} (associated with aws_lb.{}) does not exist",
                lb.name
            )),
            Some(w) => problems.extend(web_acl_rules(
                &format!("{}: aws_wafv2_web_acl.{acl}", w.file),
                w.body,
            )),
        }
    }
    if !found {
        problems.push("no internet-facing aws_lb found".to_owned());
    }
    problems
}

fn web_acl_rules(id: &str, body: &hcl::Body) -> Vec<String> {
    let mut problems = Vec::new();
    if string(attr(body, "scope")) != Some("REGIONAL") {
        problems.push(format!("{id}: scope must be REGIONAL for an ALB"));
    }
    let mut managed = Vec::new();
    let mut rate = false;
    for rule in blocks(body, "rule") {
        let counting = blocks(rule.body(), "override_action")
            .any(|o| blocks(o.body(), "count").next().is_some());
        for st in blocks(rule.body(), "statement") {
            rate |= blocks(st.body(), "rate_based_statement").next().is_some();
            for m in blocks(st.body(), "managed_rule_group_statement") {
                if let Some(name) = string(attr(m.body(), "name")) {
                    if counting {
                        problems.push(format!(
                            "{id}: managed rule group {name} only counts (override_action count)"
                        ));
                    }
                    managed.push(name.to_owned());
                }
            }
        }
    }
    for want in [
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
    ] {
        if !managed.iter().any(|m| m == want) {
            problems.push(format!("{id}: missing managed rule group {want}"));
        }
    }
    if !rate {
        problems.push(format!("{id}: missing a per-IP rate_based_statement rule"));
    }
    problems
}

/// Every `aws_lb_target_group` checks `GET /health`.
pub fn health_check_path(stack: &Stack) -> Vec<String> {
    let mut problems = Vec::new();
    let mut found = false;
    for tg in stack.resources("aws_lb_target_group") {
        found = true;
        let hc: Vec<_> = blocks(tg.body, "health_check").collect();
        let ok = hc.iter().any(|b| {
            string(attr(b.body(), "path")) == Some("/health")
                && !is_bool(attr(b.body(), "enabled"), false)
        });
        if !ok {
            problems.push(format!(
                "{}: aws_lb_target_group.{}: health_check path must be \"/health\"",
                tg.file, tg.name
            ));
        }
    }
    if !found {
        problems.push("no aws_lb_target_group found".to_owned());
    }
    problems
}

//! Structural tests of `deploy/terraform`: each rule runs on the real configuration (and
//! must find nothing), and on small inline snippets that break it (and must complain), so
//! every assertion is known to be able to fail.

mod modules;
mod network;
mod ops;
mod snippets;
mod stack;

use std::path::Path;

use stack::Stack;

/// The real configuration in `deploy/terraform`.
fn real_stack() -> Stack {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../terraform");
    Stack::load_dir(&dir).unwrap_or_else(|e| panic!("loading deploy/terraform: {e}"))
}

fn assert_clean(rule: &str, problems: Vec<String>) {
    assert!(
        problems.is_empty(),
        "{rule} failed on deploy/terraform:\n  - {}",
        problems.join("\n  - ")
    );
}

#[test]
fn rds_is_private_and_encrypted() {
    assert_clean(
        "rds_private_and_encrypted",
        network::rds_private_and_encrypted(&real_stack()),
    );
}

#[test]
fn redis_is_private_and_encrypted() {
    assert_clean(
        "redis_private_and_encrypted",
        network::redis_private_and_encrypted(&real_stack()),
    );
}

#[test]
fn waf_is_attached_to_the_alb() {
    assert_clean("waf_on_alb", network::waf_on_alb(&real_stack()));
}

#[test]
fn target_group_checks_health() {
    assert_clean(
        "health_check_path",
        network::health_check_path(&real_stack()),
    );
}

#[test]
fn container_secrets_come_from_secrets_manager_and_are_granted() {
    assert_clean(
        "secrets_from_secrets_manager",
        modules::secrets_from_secrets_manager(&real_stack()),
    );
}

#[test]
fn module_versions_are_pinned() {
    assert_clean(
        "module_versions_pinned",
        modules::module_versions_pinned(&real_stack()),
    );
}

#[test]
fn module_inputs_exist_in_v6() {
    assert_clean(
        "module_inputs_known",
        modules::module_inputs_known(&real_stack()),
    );
}

#[test]
fn container_is_hardened() {
    assert_clean(
        "container_hardened",
        modules::container_hardened(&real_stack()),
    );
}

#[test]
fn budget_mails_on_actual_and_forecast() {
    assert_clean("budget_with_email", ops::budget_with_email(&real_stack()));
}

#[test]
fn alarms_exist_and_notify() {
    assert_clean("alarms_present", ops::alarms_present(&real_stack()));
}

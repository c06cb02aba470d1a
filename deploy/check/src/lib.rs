//! Tests-only crate: the structural checks of `deploy/terraform` live in
//! `tests/terraform/`, and run with `cargo test -p llmroute-deploy-check`.
//!
//! They parse every `*.tf` file with hcl-rs (offline: no provider, no registry) and assert
//! what `terraform validate` cannot see: RDS and Redis private and encrypted, WAF on the
//! ALB, every container secret from Secrets Manager and granted to the execution role,
//! module versions pinned, no module input that terraform-aws-modules v6 silently drops,
//! the budget and its e-mail alerts, and the `/health` target-group check.

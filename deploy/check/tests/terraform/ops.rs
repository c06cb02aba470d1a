//! Operations: the monthly budget with e-mail alerts, the SNS e-mail subscription, and the
//! alarms the issue lists, each wired to an action.

use crate::stack::{attr, blocks, items, string, Stack};

/// An `aws_budgets_budget` (COST, MONTHLY) with ACTUAL and FORECASTED notifications, every
/// notification mailing someone; and an SNS e-mail subscription for the alarms.
pub fn budget_with_email(stack: &Stack) -> Vec<String> {
    let mut problems = Vec::new();
    let mut found = false;
    for b in stack.resources("aws_budgets_budget") {
        found = true;
        let id = format!("{}: aws_budgets_budget.{}", b.file, b.name);
        if string(attr(b.body, "budget_type")) != Some("COST") {
            problems.push(format!("{id}: budget_type must be COST"));
        }
        if string(attr(b.body, "time_unit")) != Some("MONTHLY") {
            problems.push(format!("{id}: time_unit must be MONTHLY"));
        }
        if attr(b.body, "limit_amount").is_none() {
            problems.push(format!("{id}: limit_amount missing"));
        }
        let mut kinds = Vec::new();
        for n in blocks(b.body, "notification") {
            let kind = string(attr(n.body(), "notification_type")).unwrap_or("?");
            kinds.push(kind.to_owned());
            if items(attr(n.body(), "subscriber_email_addresses")).is_empty() {
                problems.push(format!(
                    "{id}: the {kind} notification has no subscriber_email_addresses"
                ));
            }
        }
        for want in ["ACTUAL", "FORECASTED"] {
            if !kinds.iter().any(|k| k == want) {
                problems.push(format!("{id}: no {want} notification"));
            }
        }
    }
    if !found {
        problems.push("no aws_budgets_budget found".to_owned());
    }
    let email = stack
        .resources("aws_sns_topic_subscription")
        .any(|s| string(attr(s.body, "protocol")) == Some("email"));
    if !email {
        problems.push("no aws_sns_topic_subscription with protocol \"email\"".to_owned());
    }
    problems
}

/// The alarms: (namespace, metric) pairs that must each have an alarm with alarm_actions.
const ALARMS: [(&str, &str); 5] = [
    ("AWS/ECS", "CPUUtilization"),
    ("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count"),
    ("AWS/ApplicationELB", "UnHealthyHostCount"),
    ("AWS/RDS", "CPUUtilization"),
    ("AWS/RDS", "FreeStorageSpace"),
];

/// Every alarm in [`ALARMS`] exists and notifies someone.
pub fn alarms_present(stack: &Stack) -> Vec<String> {
    let mut problems = Vec::new();
    for (ns, metric) in ALARMS {
        let alarm = stack.resources("aws_cloudwatch_metric_alarm").find(|a| {
            string(attr(a.body, "namespace")) == Some(ns)
                && string(attr(a.body, "metric_name")) == Some(metric)
        });
        match alarm {
            None => problems.push(format!("no aws_cloudwatch_metric_alarm on {ns} {metric}")),
            Some(a) if attr(a.body, "alarm_actions").is_none() => problems.push(format!(
                "{}: aws_cloudwatch_metric_alarm.{} has no alarm_actions",
                a.file, a.name
            )),
            Some(_) => {}
        }
    }
    problems
}

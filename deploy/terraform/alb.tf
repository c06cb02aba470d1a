# The Application Load Balancer in the public subnets, its target group (health check on
# /health) and listeners: HTTPS with an ACM certificate when a domain is given (HTTP then
# only redirects), plain HTTP otherwise (not for production).

resource "aws_lb" "app" {
  #checkov:skip=CKV2_AWS_76:Log4j is covered by AWSManagedRulesKnownBadInputsRuleSet (waf.tf); the check also demands AWSManagedRulesAnonymousIpList, which would block API clients calling from cloud hosts
  #checkov:skip=CKV2_AWS_20:HTTP redirects to HTTPS whenever a domain or certificate is set (http_redirect); plain HTTP only without one, documented as not for production
  name               = var.name
  load_balancer_type = "application"
  internal           = false
  security_groups    = [aws_security_group.alb.id]
  subnets            = module.vpc.public_subnets

  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection
  idle_timeout               = 300 # long streamed completions

  access_logs {
    bucket  = aws_s3_bucket.artifacts.id
    prefix  = "alb"
    enabled = true
  }

  depends_on = [aws_s3_bucket_policy.artifacts]
}

resource "aws_lb_target_group" "app" {
  #checkov:skip=CKV_AWS_378:TLS ends at the ALB; ALB-to-task traffic stays inside the VPC's private subnets
  name                 = var.name
  port                 = var.container_port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = module.vpc.vpc_id
  deregistration_delay = var.graceful_shutdown_seconds

  health_check {
    enabled             = true
    path                = "/health"
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "https" {
  count = local.https_enabled ? 1 : 0

  load_balancer_arn = aws_lb.app.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn != "" ? var.certificate_arn : one(aws_acm_certificate_validation.app[*].certificate_arn)

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.app.arn
  }
}

resource "aws_lb_listener" "http_redirect" {
  #checkov:skip=CKV_AWS_2:this listener only redirects to HTTPS
  #checkov:skip=CKV_AWS_103:no TLS on a redirect-only listener
  count = local.https_enabled ? 1 : 0

  load_balancer_arn = aws_lb.app.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"

    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
}

resource "aws_lb_listener" "http_forward" {
  #checkov:skip=CKV_AWS_2:created only when no domain or certificate is given; documented as not for production
  #checkov:skip=CKV_AWS_103:created only when no domain or certificate is given; documented as not for production
  #checkov:skip=CKV2_AWS_20:created only when no domain or certificate is given; with one, http_redirect replaces it
  count = local.https_enabled ? 0 : 1

  load_balancer_arn = aws_lb.app.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.app.arn
  }
}

# ---------------------------------------------------------------- certificate and DNS

resource "aws_acm_certificate" "app" {
  count = var.domain_name != "" && var.certificate_arn == "" ? 1 : 0

  domain_name       = var.domain_name
  validation_method = "DNS"

  lifecycle {
    create_before_destroy = true

    precondition {
      condition     = var.route53_zone_id != ""
      error_message = "domain_name is set without route53_zone_id: give the hosted zone (to validate the certificate), or an existing certificate_arn."
    }
  }
}

resource "aws_route53_record" "cert_validation" {
  for_each = {
    for dvo in try(aws_acm_certificate.app[0].domain_validation_options, []) : dvo.domain_name => {
      name   = dvo.resource_record_name
      type   = dvo.resource_record_type
      record = dvo.resource_record_value
    }
  }

  zone_id         = var.route53_zone_id
  name            = each.value.name
  type            = each.value.type
  records         = [each.value.record]
  ttl             = 300
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "app" {
  count = length(aws_acm_certificate.app)

  certificate_arn         = aws_acm_certificate.app[0].arn
  validation_record_fqdns = [for r in aws_route53_record.cert_validation : r.fqdn]
}

resource "aws_route53_record" "app" {
  count = var.domain_name != "" && var.route53_zone_id != "" ? 1 : 0

  zone_id = var.route53_zone_id
  name    = var.domain_name
  type    = "A"

  alias {
    name                   = aws_lb.app.dns_name
    zone_id                = aws_lb.app.zone_id
    evaluate_target_health = true
  }
}

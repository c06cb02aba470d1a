# The role GitHub Actions assumes through OIDC to deploy (no long-lived AWS keys). Only
# jobs of var.github_repository running in var.github_environment may assume it. It runs
# terraform apply, so it needs broad rights: PowerUserAccess plus IAM limited to roles and
# policies whose names start with var.name.

locals {
  github_enabled       = var.github_repository != ""
  github_oidc_url      = "token.actions.githubusercontent.com"
  github_oidc_provider = var.create_github_oidc_provider ? try(aws_iam_openid_connect_provider.github[0].arn, "") : "arn:${local.partition}:iam::${local.account_id}:oidc-provider/${local.github_oidc_url}"
}

resource "aws_iam_openid_connect_provider" "github" {
  count = local.github_enabled && var.create_github_oidc_provider ? 1 : 0

  url            = "https://${local.github_oidc_url}"
  client_id_list = ["sts.amazonaws.com"]
}

data "aws_iam_policy_document" "github_trust" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.github_oidc_provider]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.github_oidc_url}:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.github_oidc_url}:sub"
      values   = ["repo:${var.github_repository}:environment:${var.github_environment}"]
    }
  }
}

resource "aws_iam_role" "github_deploy" {
  count = local.github_enabled ? 1 : 0

  name                 = "${var.name}-github-deploy"
  description          = "Assumed by GitHub Actions (${var.github_repository}, environment ${var.github_environment}) to deploy llmroute"
  assume_role_policy   = data.aws_iam_policy_document.github_trust.json
  max_session_duration = 3600
}

resource "aws_iam_role_policy_attachment" "github_power_user" {
  count = local.github_enabled ? 1 : 0

  role       = aws_iam_role.github_deploy[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/PowerUserAccess"
}

data "aws_iam_policy_document" "github_iam" {
  statement {
    sid = "ManageOwnRolesAndPolicies"
    actions = [
      "iam:AttachRolePolicy",
      "iam:CreatePolicy",
      "iam:CreatePolicyVersion",
      "iam:CreateRole",
      "iam:DeletePolicy",
      "iam:DeletePolicyVersion",
      "iam:DeleteRole",
      "iam:DeleteRolePolicy",
      "iam:DetachRolePolicy",
      "iam:PassRole",
      "iam:PutRolePolicy",
      "iam:TagPolicy",
      "iam:TagRole",
      "iam:UntagPolicy",
      "iam:UntagRole",
      "iam:UpdateAssumeRolePolicy",
      "iam:UpdateRole",
      "iam:UpdateRoleDescription",
    ]
    resources = [
      "arn:${local.partition}:iam::${local.account_id}:role/${var.name}*",
      "arn:${local.partition}:iam::${local.account_id}:policy/${var.name}*",
    ]
  }

  statement {
    sid = "ReadIam"
    actions = [
      "iam:GetPolicy",
      "iam:GetPolicyVersion",
      "iam:GetRole",
      "iam:GetRolePolicy",
      "iam:ListAttachedRolePolicies",
      "iam:ListInstanceProfilesForRole",
      "iam:ListPolicyVersions",
      "iam:ListRolePolicies",
    ]
    resources = [
      "arn:${local.partition}:iam::${local.account_id}:role/${var.name}*",
      "arn:${local.partition}:iam::${local.account_id}:policy/${var.name}*",
      "arn:${local.partition}:iam::aws:policy/*",
    ]
  }

  statement {
    sid = "GithubOidcProvider"
    actions = [
      "iam:AddClientIDToOpenIDConnectProvider",
      "iam:CreateOpenIDConnectProvider",
      "iam:DeleteOpenIDConnectProvider",
      "iam:GetOpenIDConnectProvider",
      "iam:RemoveClientIDFromOpenIDConnectProvider",
      "iam:TagOpenIDConnectProvider",
      "iam:UntagOpenIDConnectProvider",
      "iam:UpdateOpenIDConnectProviderThumbprint",
    ]
    resources = ["arn:${local.partition}:iam::${local.account_id}:oidc-provider/${local.github_oidc_url}"]
  }

  statement {
    sid       = "ServiceLinkedRoles"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/aws-service-role/*"]
  }
}

resource "aws_iam_role_policy" "github_iam" {
  count = local.github_enabled ? 1 : 0

  name   = "${var.name}-github-deploy-iam"
  role   = aws_iam_role.github_deploy[0].id
  policy = data.aws_iam_policy_document.github_iam.json
}

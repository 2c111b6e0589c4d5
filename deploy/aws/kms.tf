# One customer-managed key for what this configuration stores: the image repository, the
# secrets, the plugins file system, the logs and the database.
resource "aws_kms_key" "gateway" {
  description             = "${var.name}: ECR, Secrets Manager, EFS, CloudWatch Logs, RDS"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
}

resource "aws_kms_alias" "gateway" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.gateway.key_id
}

data "aws_iam_policy_document" "kms" {
  # checkov:skip=CKV_AWS_109:a key policy's Resource "*" is the key itself; the account root keeps administration as AWS requires
  # checkov:skip=CKV_AWS_111:a key policy's Resource "*" is the key itself
  # checkov:skip=CKV_AWS_356:a key policy's Resource "*" is the key itself
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchLogsEncrypt"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${data.aws_partition.current.partition}:logs:${var.region}:${data.aws_caller_identity.current.account_id}:log-group:/ecs/${var.name}"]
    }
  }
}

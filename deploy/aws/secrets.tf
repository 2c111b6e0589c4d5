# Shared by every task: the admin API token and Django's secret key (sessions and CSRF tokens
# made by one task are accepted by the others). Generated once; rotate by writing a new value
# and forcing a new deployment.
resource "random_password" "admin_token" {
  length  = 48
  special = false
}

resource "random_password" "django_secret_key" {
  length  = 64
  special = false
}

resource "aws_secretsmanager_secret" "admin_token" {
  # checkov:skip=CKV2_AWS_57:rotating needs a new deployment of the service; rotate by hand (see deploy/README.md)
  name        = "${var.name}/admin-token"
  description = "GATEWAY_ADMIN_TOKEN of ${var.name}"
  kms_key_id  = aws_kms_key.gateway.arn
}

resource "aws_secretsmanager_secret_version" "admin_token" {
  secret_id     = aws_secretsmanager_secret.admin_token.id
  secret_string = random_password.admin_token.result
}

resource "aws_secretsmanager_secret" "django_secret_key" {
  # checkov:skip=CKV2_AWS_57:rotating invalidates every session; rotate by hand (see deploy/README.md)
  name        = "${var.name}/django-secret-key"
  description = "GATEWAY_DJANGO_SECRET_KEY of ${var.name}"
  kms_key_id  = aws_kms_key.gateway.arn
}

resource "aws_secretsmanager_secret_version" "django_secret_key" {
  secret_id     = aws_secretsmanager_secret.django_secret_key.id
  secret_string = random_password.django_secret_key.result
}

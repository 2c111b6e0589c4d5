# Optional (create_database = true): PostgreSQL for the Django plugins of every task. Its URL
# reaches the tasks as GATEWAY_DJANGO_DATABASE_URL through a Secrets Manager secret.

resource "aws_security_group" "database" {
  count       = var.create_database ? 1 : 0
  name        = "${var.name}-database"
  description = "PostgreSQL of ${var.name}"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "database_from_tasks" {
  count                        = var.create_database ? 1 : 0
  security_group_id            = aws_security_group.database[0].id
  description                  = "PostgreSQL from the tasks"
  referenced_security_group_id = aws_security_group.tasks.id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
}

resource "aws_db_subnet_group" "gateway" {
  count      = var.create_database ? 1 : 0
  name       = var.name
  subnet_ids = var.private_subnet_ids
}

resource "aws_db_parameter_group" "gateway" {
  count  = var.create_database ? 1 : 0
  name   = "${var.name}-postgres16"
  family = "postgres16"

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }
  parameter {
    name  = "log_statement"
    value = "ddl"
  }
  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }
}

resource "random_password" "database" {
  count   = var.create_database ? 1 : 0
  length  = 40
  special = false # it goes into a URL unescaped
}

resource "aws_iam_role" "rds_monitoring" {
  count              = var.create_database ? 1 : 0
  name               = "${var.name}-rds-monitoring"
  assume_role_policy = data.aws_iam_policy_document.rds_monitoring_assume.json
}

data "aws_iam_policy_document" "rds_monitoring_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy_attachment" "rds_monitoring" {
  count      = var.create_database ? 1 : 0
  role       = aws_iam_role.rds_monitoring[0].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

resource "aws_db_instance" "gateway" {
  count                                 = var.create_database ? 1 : 0
  identifier                            = var.name
  engine                                = "postgres"
  engine_version                        = "16"
  instance_class                        = var.db_instance_class
  allocated_storage                     = var.db_allocated_storage
  storage_type                          = "gp3"
  storage_encrypted                     = true
  kms_key_id                            = aws_kms_key.gateway.arn
  db_name                               = "gateway"
  username                              = "gateway"
  password                              = random_password.database[0].result
  db_subnet_group_name                  = aws_db_subnet_group.gateway[0].name
  parameter_group_name                  = aws_db_parameter_group.gateway[0].name
  vpc_security_group_ids                = [aws_security_group.database[0].id]
  publicly_accessible                   = false
  multi_az                              = var.db_multi_az
  backup_retention_period               = 14
  copy_tags_to_snapshot                 = true
  deletion_protection                   = var.deletion_protection
  skip_final_snapshot                   = false
  final_snapshot_identifier             = "${var.name}-final"
  auto_minor_version_upgrade            = true
  iam_database_authentication_enabled   = true
  enabled_cloudwatch_logs_exports       = ["postgresql", "upgrade"]
  performance_insights_enabled          = true
  performance_insights_kms_key_id       = aws_kms_key.gateway.arn
  performance_insights_retention_period = 7
  monitoring_interval                   = 60
  monitoring_role_arn                   = aws_iam_role.rds_monitoring[0].arn
}

resource "aws_secretsmanager_secret" "database_url" {
  # checkov:skip=CKV2_AWS_57:the URL follows the database's password, which Terraform sets
  count       = var.create_database ? 1 : 0
  name        = "${var.name}/database-url"
  description = "GATEWAY_DJANGO_DATABASE_URL of ${var.name}"
  kms_key_id  = aws_kms_key.gateway.arn
}

resource "aws_secretsmanager_secret_version" "database_url" {
  count     = var.create_database ? 1 : 0
  secret_id = aws_secretsmanager_secret.database_url[0].id
  secret_string = format(
    # checkov:skip=CKV_SECRET_4:a format string; the password comes from random_password
    "postgres://%s:%s@%s:%d/%s?sslmode=require",
    aws_db_instance.gateway[0].username,
    random_password.database[0].result,
    aws_db_instance.gateway[0].address,
    aws_db_instance.gateway[0].port,
    aws_db_instance.gateway[0].db_name,
  )
}

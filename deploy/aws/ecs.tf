locals {
  database_url_secret_arn = var.create_database ? aws_secretsmanager_secret.database_url[0].arn : var.database_url_secret_arn

  task_secrets = concat(
    [
      { name = "GATEWAY_ADMIN_TOKEN", valueFrom = aws_secretsmanager_secret.admin_token.arn },
      { name = "GATEWAY_DJANGO_SECRET_KEY", valueFrom = aws_secretsmanager_secret.django_secret_key.arn },
    ],
    local.database_url_secret_arn == null ? [] : [
      { name = "GATEWAY_DJANGO_DATABASE_URL", valueFrom = local.database_url_secret_arn },
    ],
  )

  task_environment = [
    { name = "GATEWAY_PLUGINS_POLL", value = "true" }, # EFS is NFS: no change events
    { name = "GATEWAY_PLUGINS_DRAIN_TIMEOUT_S", value = tostring(var.drain_timeout_s) },
    { name = "GATEWAY_DJANGO_SETTINGS", value = jsonencode(var.django_settings) },
  ]
}

resource "aws_ecs_cluster" "gateway" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_ecs_task_definition" "gateway" {
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.task_cpu
  memory                   = var.task_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  # Every value is JSON-encoded here; the template is plain JSON around them (and
  # tests/test_deploy.py validates it against the ECS API's RegisterTaskDefinition).
  container_definitions = templatefile("${path.module}/container-definitions.json.tftpl", {
    image        = jsonencode("${aws_ecr_repository.gateway.repository_url}:${var.image_tag}")
    workers      = jsonencode(tostring(var.workers))
    environment  = jsonencode(local.task_environment)
    secrets      = jsonencode(local.task_secrets)
    stop_timeout = jsonencode(var.stop_timeout_s)
    log_group    = jsonencode(aws_cloudwatch_log_group.gateway.name)
    region       = jsonencode(var.region)
  })

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  volume {
    name = "plugins"
    efs_volume_configuration {
      file_system_id     = aws_efs_file_system.plugins.id
      transit_encryption = "ENABLED"
      authorization_config {
        access_point_id = aws_efs_access_point.plugins.id
        iam             = "ENABLED"
      }
    }
  }

  # Task storage (no host path on Fargate): writable although the root filesystem is not.
  volume {
    name = "data"
  }

  volume {
    name = "tmp"
  }

  lifecycle {
    precondition {
      condition     = var.stop_timeout_s > var.drain_timeout_s && var.stop_timeout_s <= 120
      error_message = "stop_timeout_s must exceed drain_timeout_s (in-flight requests would be killed) and be at most 120 (Fargate's limit)."
    }
  }
}

resource "aws_ecs_service" "gateway" {
  name                              = var.name
  cluster                           = aws_ecs_cluster.gateway.id
  task_definition                   = aws_ecs_task_definition.gateway.arn
  desired_count                     = var.desired_count
  launch_type                       = "FARGATE"
  platform_version                  = "LATEST"
  health_check_grace_period_seconds = 60
  propagate_tags                    = "SERVICE"
  # one task at a time: a new one must be healthy before an old one goes
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.gateway.arn
    container_name   = "gateway"
    container_port   = 8000
  }

  depends_on = [aws_lb_listener.https, aws_efs_mount_target.plugins]
}

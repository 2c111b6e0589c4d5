output "ecr_repository_url" {
  description = "Push the image here (tag = var.image_tag)."
  value       = aws_ecr_repository.gateway.repository_url
}

output "load_balancer_dns_name" {
  description = "Point your DNS name (the certificate's) here."
  value       = aws_lb.gateway.dns_name
}

output "cluster_name" {
  value = aws_ecs_cluster.gateway.name
}

output "service_name" {
  value = aws_ecs_service.gateway.name
}

output "plugins_file_system_id" {
  description = "EFS holding the plugins folder (access point below, directory /plugins)."
  value       = aws_efs_file_system.plugins.id
}

output "plugins_access_point_id" {
  value = aws_efs_access_point.plugins.id
}

output "admin_token_secret_arn" {
  description = "aws secretsmanager get-secret-value --secret-id <this> reads the admin token."
  value       = aws_secretsmanager_secret.admin_token.arn
}

output "database_endpoint" {
  description = "host:port of the PostgreSQL database (create_database = true)."
  value       = var.create_database ? aws_db_instance.gateway[0].endpoint : null
}

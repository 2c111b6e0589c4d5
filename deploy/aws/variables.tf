variable "name" {
  description = "Name of every resource (ECR repository, ECS cluster and service, ALB, ...)."
  type        = string
  default     = "plugin-gateway"
}

variable "region" {
  description = "AWS region."
  type        = string
  default     = "eu-west-1"
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "vpc_id" {
  description = "The VPC to run in (an existing one: this configuration makes no network)."
  type        = string
}

variable "public_subnet_ids" {
  description = "Subnets of the load balancer (at least two availability zones)."
  type        = list(string)
}

variable "private_subnet_ids" {
  description = "Subnets of the tasks, the EFS mount targets and the database (NAT or VPC endpoints for ECR, Secrets Manager and CloudWatch Logs)."
  type        = list(string)
}

variable "certificate_arn" {
  description = "ACM certificate of the HTTPS listener; HTTP redirects to HTTPS."
  type        = string
}

variable "allowed_cidr_blocks" {
  description = "Who may reach the load balancer."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "alb_access_logs_bucket" {
  description = "An existing S3 bucket for the load balancer's access logs (null: none)."
  type        = string
  default     = null
}

variable "image_tag" {
  description = "Tag of the image in the ECR repository (tags are immutable there)."
  type        = string
  default     = "0.1.0"
}

variable "desired_count" {
  description = "Number of tasks (replicas)."
  type        = number
  default     = 2
}

variable "task_cpu" {
  description = "CPU units of one task (1024 = 1 vCPU)."
  type        = number
  default     = 512
}

variable "task_memory" {
  description = "Memory of one task, MiB."
  type        = number
  default     = 1024
}

variable "workers" {
  description = "gateway run --workers: processes per task."
  type        = number
  default     = 1
}

variable "drain_timeout_s" {
  description = "plugins.drain_timeout_s: how long in-flight requests of a stopping or replaced version get."
  type        = number
  default     = 30
}

variable "stop_timeout_s" {
  description = "Seconds between SIGTERM and SIGKILL of a stopping task: above drain_timeout_s, at most 120 on Fargate."
  type        = number
  default     = 45
}

variable "django_settings" {
  description = "django.settings (GATEWAY_DJANGO_SETTINGS), e.g. { CSRF_TRUSTED_ORIGINS = [\"https://gateway.example.com\"] }."
  type        = any
  default     = {}
}

variable "log_retention_days" {
  description = "Retention of the tasks' CloudWatch logs."
  type        = number
  default     = 365
}

variable "create_database" {
  description = "Create an RDS PostgreSQL database for the Django plugins (its URL reaches the tasks as GATEWAY_DJANGO_DATABASE_URL)."
  type        = bool
  default     = false
}

variable "database_url_secret_arn" {
  description = "With create_database = false: a Secrets Manager secret holding the postgres:// URL (user, password, host, port, database) of an existing database (null: each task has its own SQLite)."
  type        = string
  default     = null
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.micro"
}

variable "db_allocated_storage" {
  description = "RDS storage, GiB."
  type        = number
  default     = 20
}

variable "db_multi_az" {
  description = "A standby in a second availability zone."
  type        = bool
  default     = true
}

variable "deletion_protection" {
  description = "Protect the load balancer and the database from `terraform destroy`."
  type        = bool
  default     = true
}

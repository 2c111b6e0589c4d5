# The plugins folder every task serves. NFS sends no change events to other clients, so the
# gateway polls it (GATEWAY_PLUGINS_POLL=true in the task definition).
resource "aws_efs_file_system" "plugins" {
  creation_token = "${var.name}-plugins"
  encrypted      = true
  kms_key_id     = aws_kms_key.gateway.arn

  tags = { Name = "${var.name}-plugins" }
}

resource "aws_efs_backup_policy" "plugins" {
  file_system_id = aws_efs_file_system.plugins.id
  backup_policy {
    status = "ENABLED"
  }
}

resource "aws_efs_mount_target" "plugins" {
  for_each        = toset(var.private_subnet_ids)
  file_system_id  = aws_efs_file_system.plugins.id
  subnet_id       = each.value
  security_groups = [aws_security_group.efs.id]
}

# Every access goes through /plugins as uid 10001, group 0 (the image's user), whatever the
# task's user, so files copied in by another client stay readable and writable.
resource "aws_efs_access_point" "plugins" {
  file_system_id = aws_efs_file_system.plugins.id

  posix_user {
    uid = 10001
    gid = 0
  }

  root_directory {
    path = "/plugins"
    creation_info {
      owner_uid   = 10001
      owner_gid   = 0
      permissions = "0775"
    }
  }
}

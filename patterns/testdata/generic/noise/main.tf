variable "db_password" {
  type      = string
  sensitive = true
}
resource "aws_db_instance" "main" {
  password             = var.db_password
  manage_master_user_password = true
}
resource "random_password" "api" {
  length  = 32
  special = false
}
output "api_token" {
  value     = random_password.api.result
  sensitive = true
}
data "aws_secretsmanager_secret_version" "token" {
  secret_id = aws_secretsmanager_secret.token.id
}
locals {
  secret_arn = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:app/token-1a2b3c"
  token_ttl  = "24h"
}

variable "admin_password" {
  type      = string
  default   = "Fixture-Tf-Pass-4417"
  sensitive = true
}

resource "azurerm_resource_group" "fixture" {
  name     = "rg-fixture"
  location = "westeurope"
}

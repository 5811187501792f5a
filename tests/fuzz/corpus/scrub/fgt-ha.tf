# FortiGate HA pair on Azure: load balancer probe and VMs
terraform {
  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 3.80"
    }
  }
}

variable "admin_password" {
  type      = string
  sensitive = true
  default   = "TfDefault!Pass3793"
}

variable "sdn_client_secret" {
  type    = string
  default = <<EOT
HeredocSecretValue-pnpfdWgZ
EOT
}

variable "location" {
  default = "westeurope" # the region
}

/* The probe answers on the FortiGate probe-response port. */
resource "azurerm_lb_probe" "fgt_probe" {
  loadbalancer_id     = azurerm_lb.fgt_elb.id
  name                = "lbprobe"
  protocol            = "Tcp"
  port                = 8008
  interval_in_seconds = 5
}

resource "azurerm_linux_virtual_machine" "fgt_a" {
  name                = "fgt-azure-a"
  location            = var.location
  size                = "Standard_F4s"
  admin_username      = "fgtadmin"
  admin_password      = "InlineVmPass#9D46br"
  disable_password_authentication = false
  custom_data = base64encode(templatefile("${path.module}/fgt-a.conf", {
    hostname = "fgt-azure-a"
  }))

  os_disk {
    caching              = "ReadWrite"
    storage_account_type = "Premium_LRS"
  }
}

resource "azurerm_storage_account" "diag" {
  name                     = "fgtdiagstore"
  account_tier             = "Standard"
  account_replication_type = "LRS"
}

locals {
  diag_account_key = "dlQHqhwcrKxslDicF+Uu08fY4Z7LpWAwt5ZgIdADExkQzc+LDTmhfjII3BbQ92QX8y9pM49wC3OlR2eUllg5nw=="
}

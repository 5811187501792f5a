# Contoso Logistics - NCE - West Europe hub (FortiGate A-P cluster behind ELB + ILB)
terraform {
  required_version = ">= 1.5.0"
  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 3.110"
    }
  }
  backend "azurerm" {
    resource_group_name  = "rg-nce-tfstate-weu"
    storage_account_name = "stncetfstateweu01"
    container_name       = "tfstate"
    key                  = "hub-weu/fortigate.tfstate"
    # FIXME(NCE-142): move to OIDC/managed identity; this key was pasted here during the 2024 migration
    access_key = "vktQhryrIWb6iD80ThML/YHAdKYMqFRdcQp02n/isyXpyo/0ddUK7cNiPzm+KmnHiW0tXpolsjfXd0cQCR+tjg=="
  }
}

provider "azurerm" {
  features {}
  subscription_id = var.subscription_id
  tenant_id       = var.tenant_id
  client_id       = var.client_id
  client_secret   = var.client_secret
}

# Spokes in West Europe. Each spoke: one VNet, one route table (UDR) shared by all its subnets,
# and a pair of peerings with the hub. Spokes are never peered with each other: spoke-to-spoke
# traffic hairpins through the FortiGate (policies 20/21/22/25 on port2 -> port2).
terraform {
  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 3.110"
    }
  }
}

provider "azurerm" {
  features {}
}

variable "ilb_frontend_ip" {
  type    = string
  default = "10.10.0.70"
}

variable "hub_vnet_id" {
  type    = string
  default = "/subscriptions/a6f3c2d1-58b4-4e0f-9c7a-2d81e5f0b934/resourceGroups/rg-connectivity-weu/providers/Microsoft.Network/virtualNetworks/vnet-hub-weu-01"
}

variable "hub_vnet_name" {
  type    = string
  default = "vnet-hub-weu-01"
}

variable "hub_rg" {
  type    = string
  default = "rg-connectivity-weu"
}

variable "spokes" {
  type = map(object({
    address_space = string
    subnets       = map(string)
  }))
  default = {
    prod = {
      address_space = "10.20.0.0/16"
      subnets = {
        "snet-web" = "10.20.0.0/24"
        "snet-app" = "10.20.1.0/24"
        "snet-db"  = "10.20.2.0/24"
      }
    }
    nonprod = {
      address_space = "10.21.0.0/16"
      subnets = {
        "snet-web" = "10.21.0.0/24"
        "snet-app" = "10.21.1.0/24"
        "snet-db"  = "10.21.2.0/24"
      }
    }
    shared = {
      address_space = "10.22.0.0/16"
      subnets = {
        "snet-identity" = "10.22.1.0/24"
        "snet-logging"  = "10.22.2.0/24"
        "snet-mgmt"     = "10.22.3.0/24"
      }
    }
  }
}

locals {
  subnet_list = flatten([
    for spoke, cfg in var.spokes : [
      for name, prefix in cfg.subnets : { key = "${spoke}-${name}", spoke = spoke, name = name, prefix = prefix }
    ]
  ])
}

resource "azurerm_resource_group" "spoke" {
  for_each = var.spokes
  name     = "rg-spoke-${each.key}-weu"
  location = "westeurope"
}

resource "azurerm_virtual_network" "spoke" {
  for_each            = var.spokes
  name                = "vnet-spoke-${each.key}-weu-01"
  location            = azurerm_resource_group.spoke[each.key].location
  resource_group_name = azurerm_resource_group.spoke[each.key].name
  address_space       = [each.value.address_space]
  dns_servers         = ["10.22.1.4", "10.22.1.5"]
}

resource "azurerm_subnet" "spoke" {
  for_each             = { for s in local.subnet_list : s.key => s }
  name                 = each.value.name
  resource_group_name  = azurerm_resource_group.spoke[each.value.spoke].name
  virtual_network_name = azurerm_virtual_network.spoke[each.value.spoke].name
  address_prefixes     = [each.value.prefix]
}

resource "azurerm_route_table" "spoke" {
  for_each                      = var.spokes
  name                          = "rt-spoke-${each.key}-weu"
  location                      = azurerm_resource_group.spoke[each.key].location
  resource_group_name           = azurerm_resource_group.spoke[each.key].name
  disable_bgp_route_propagation = true

  route {
    name                   = "default-to-fgt-ilb"
    address_prefix         = "0.0.0.0/0"
    next_hop_type          = "VirtualAppliance"
    next_hop_in_ip_address = var.ilb_frontend_ip
  }
}

resource "azurerm_subnet_route_table_association" "spoke" {
  for_each       = { for s in local.subnet_list : s.key => s }
  subnet_id      = azurerm_subnet.spoke[each.key].id
  route_table_id = azurerm_route_table.spoke[each.value.spoke].id
}

# Spoke -> hub. allow_forwarded_traffic MUST be true: packets forwarded by the FortiGate
# (source = another spoke or on-prem) do not originate in the hub VNet and would be dropped otherwise.
resource "azurerm_virtual_network_peering" "spoke_to_hub" {
  for_each                     = var.spokes
  name                         = "peer-${each.key}-to-hub-weu"
  resource_group_name          = azurerm_resource_group.spoke[each.key].name
  virtual_network_name         = azurerm_virtual_network.spoke[each.key].name
  remote_virtual_network_id    = var.hub_vnet_id
  allow_virtual_network_access = true
  allow_forwarded_traffic      = true
  allow_gateway_transit        = false
  # No Azure VPN/ExpressRoute gateway exists in the hub (ADR-002): the FortiGate terminates all VPNs.
  use_remote_gateways = false
}

resource "azurerm_virtual_network_peering" "hub_to_spoke" {
  for_each                     = var.spokes
  name                         = "peer-hub-weu-to-${each.key}"
  resource_group_name          = var.hub_rg
  virtual_network_name         = var.hub_vnet_name
  remote_virtual_network_id    = azurerm_virtual_network.spoke[each.key].id
  allow_virtual_network_access = true
  allow_forwarded_traffic      = true
  allow_gateway_transit        = false
  use_remote_gateways          = false
}
